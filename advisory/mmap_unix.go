//go:build unix

package advisory

import (
	"fmt"
	"os"
	"syscall"
)

// canMap says whether this system maps snapshots (see mapFile).
const canMap = true

// mapFile maps a file read-only. The file is replaced by rename, never
// truncated in place, so the mapping stays valid until unmap.
func mapFile(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := fi.Size()
	if size < snapHeaderSize || size != int64(int(size)) {
		return nil, nil, fmt.Errorf("%s: %w: %d bytes", path, errSnapshot, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
