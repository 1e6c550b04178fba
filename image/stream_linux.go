package image

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// growPipe asks for a 1 MiB pipe (the unprivileged maximum) instead of
// 64 KiB: far fewer wake-ups between decoder and reader. Failing to grow it
// only costs speed.
func growPipe(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) }

// backgroundNice is how far a background decoder's nice value is raised:
// of 0, 5, 10 and 19, 10 gave debian-app's shortest scans (see
// yieldToLargestLayer).
const backgroundNice = 10

// lowerPriority raises a process's nice value by backgroundNice, from ours.
// Failing only costs speed; a process may always lower its own children.
func lowerPriority(pid int) {
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		return
	}
	// Getpriority returns 20-nice on Linux.
	_ = unix.Setpriority(unix.PRIO_PROCESS, pid, min(19, 20-prio+backgroundNice))
}

// spliceFrom feeds a decoder's stdin with the first size bytes of a file by
// splice(2), or by copying where the file system cannot splice.
func spliceFrom(f *os.File, size int64) func(*os.File) error {
	return func(stdin *os.File) error {
		src, dst := int(f.Fd()), int(stdin.Fd())
		var off int64
		for off < size {
			n, err := unix.Splice(src, &off, dst, nil, int(min(size-off, 1<<20)), unix.SPLICE_F_MOVE|unix.SPLICE_F_MORE)
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case off == 0 && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)):
				_, err := io.Copy(stdin, io.NewSectionReader(f, 0, size))
				return err
			case err != nil:
				return err
			case n == 0:
				return io.ErrUnexpectedEOF // the file shrank under us
			}
		}
		return nil
	}
}

// changeTime is a file's inode change time, which no user can set back.
func changeTime(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatInt(st.Ctim.Sec, 10) + "." + strconv.FormatInt(st.Ctim.Nsec, 10)
	}
	return ""
}
