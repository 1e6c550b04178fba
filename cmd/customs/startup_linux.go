package main

import (
	"bufio"
	"debug/elf"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// dropStartupPages releases the executable's read-only pages that starting
// up mapped, once main runs.
//
// The binary is 70 MB and the initialization of the packages it links
// (OPA, sigstore, SQLite, the registry client...) touches code and data all
// over it; the kernel maps 64 KB around every such fault, so a customs
// that had done nothing yet was resident for 35 MB, most of a scan's peak.
// Those pages are never written (text and read-only data of a file
// mapping), so dropping them loses nothing: the ones a command goes on to
// use come back from the page cache on first touch. Writable mappings and
// any range the dynamic loader relocates (PT_GNU_RELRO) are left alone.
func dropStartupPages() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return
	}
	if traced() {
		return // a debugger's breakpoints are written into these pages
	}
	f, err := elf.Open(exe)
	if err != nil {
		return // without the program headers, nothing is known to be safe
	}
	var relro [][2]uint64
	for _, p := range f.Progs {
		if p.Type == elf.PT_GNU_RELRO || p.Type == elf.PT_DYNAMIC {
			relro = append(relro, [2]uint64{p.Vaddr, p.Vaddr + p.Memsz})
		}
	}
	pie := f.Type == elf.ET_DYN
	f.Close()
	if pie {
		return // addresses are relocated: not worth the bookkeeping
	}
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer maps.Close()
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// 00400000-017f7000 r-xp 00000000 fd:01 1234 /path/to/customs
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1][1] == 'w' || f[1][0] != 'r' {
			continue
		}
		if !sameFile(fi, f[3], f[4]) {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		overlaps := false
		for _, r := range relro {
			overlaps = overlaps || (start < r[1] && r[0] < end)
		}
		if !overlaps {
			unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
		}
	}
}

// traced says whether a debugger is attached (TracerPid in /proc/self/status).
func traced() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
			return strings.TrimSpace(v) != "0"
		}
	}
	return false
}

// sameFile says whether a /proc/self/maps line's device ("fd:01") and
// inode name the file fi describes.
func sameFile(fi os.FileInfo, dev, inode string) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	major, minor, found := strings.Cut(dev, ":")
	ino, err := strconv.ParseUint(inode, 10, 64)
	maj, err1 := strconv.ParseUint(major, 16, 32)
	min, err2 := strconv.ParseUint(minor, 16, 32)
	return ok && found && err == nil && err1 == nil && err2 == nil &&
		st.Ino == ino && uint64(st.Dev) == unix.Mkdev(uint32(maj), uint32(min))
}
