package gobinary

import (
	"bytes"
	"testing"
)

func FuzzDecodeInline(f *testing.F) {
	hdr := append([]byte("\xff Go buildinf:"), 8, 2)
	hdr = append(hdr, make([]byte, 16)...)
	mod := "0123456789abcdefpath\texample.com/x\nmod\texample.com/x\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.3\th1:abc=\n" + "\n0123456789abcdef"
	seed := append(append(append([]byte{}, hdr...), 9), "go1.20.14"...)
	seed = append(append(seed, byte(len(mod))), mod...)
	f.Add(seed)
	f.Add(hdr)
	f.Add([]byte("\xff Go buildinf:\x08\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		bi, err := decodeInline(bytes.NewReader(b))
		if err == nil {
			_ = Packages(bi)
		}
	})
}
