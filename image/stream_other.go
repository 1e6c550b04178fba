//go:build !linux

package image

import (
	"io"
	"io/fs"
	"os"
)

// growPipe: only Linux lets a pipe grow.
func growPipe(uintptr) {}

// lowerPriority: decoders run at our priority here.
func lowerPriority(int) {}

// spliceFrom feeds a decoder's stdin with the first size bytes of a file,
// by copying (splice(2) is Linux's).
func spliceFrom(f *os.File, size int64) func(*os.File) error {
	return func(stdin *os.File) error {
		_, err := io.Copy(stdin, io.NewSectionReader(f, 0, size))
		return err
	}
}

// changeTime: not read here; size and modification time stand alone.
func changeTime(fs.FileInfo) string { return "" }
