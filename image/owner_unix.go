//go:build unix

package image

import (
	"io/fs"
	"syscall"
)

// owner is a file's user and group ids.
func owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}
