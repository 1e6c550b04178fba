package image

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// layerStream turns a compressed blob into its uncompressed bytes while
// hashing the compressed bytes, so a blob that does not match its digest is
// refused, and while bounding how far it may expand.
type layerStream struct {
	raw      *countingReader
	buffered *bufio.Reader
	hasher   hash.Hash
	want     string // "sha256:hex" or ""
	wantSize int64

	dec      io.Reader
	closeDec func() error // stops the decoder; returns its failure, if any
	ext      *externalDecoder

	out    int64 // uncompressed bytes handed out
	limits Limits
	label  string
}

// gzipDecoder names the decompressor: "auto" (igzip when on PATH, else Go),
// "go", or a path to an igzip-compatible program. CUSTOMS_GZIP overrides.
//
// Why an external program: inflating is most of the cost of reading an image,
// and ISA-L's igzip inflates about 2.5x faster than the fastest pure-Go
// implementation on this class of machine. containerd makes the same trade
// with unpigz. The compressed bytes are still hashed here, in-process.
func gzipDecoder() string {
	if v := os.Getenv("CUSTOMS_GZIP"); v != "" {
		return v
	}
	return "auto"
}

var igzipPath = sync.OnceValue(func() string {
	p, err := exec.LookPath("igzip")
	if err != nil {
		return ""
	}
	return p
})

// externalMinSize is the compressed size below which starting a process
// costs more than it saves.
const externalMinSize = 1 << 20

func newLayerStream(rc io.Reader, info layerSpec, limits Limits, progress func(int64)) (*layerStream, error) {
	s := &layerStream{limits: limits, want: info.verifyDigest, wantSize: info.size, label: info.label}
	s.raw = &countingReader{r: rc, progress: progress}
	var src io.Reader = s.raw
	if s.want != "" {
		alg, _, _ := strings.Cut(s.want, ":")
		switch alg {
		case "sha256":
			s.hasher = sha256.New()
		case "sha512":
			s.hasher = sha512.New()
		default:
			return nil, fmt.Errorf("%s: unsupported digest algorithm %q", s.label, alg)
		}
		src = io.TeeReader(src, s.hasher)
	}
	s.buffered = bufio.NewReaderSize(src, 256<<10)
	magic, err := s.buffered.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: reading blob: %w", s.label, err)
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		dec := gzipDecoder()
		ext := ""
		switch {
		case dec == "auto" && (info.size == 0 || info.size >= externalMinSize):
			ext = igzipPath()
		case dec != "auto" && dec != "go":
			ext = dec
		}
		if ext != "" {
			d, err := startExternal(ext, s.buffered)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.label, err)
			}
			s.ext = d
			s.dec = bufio.NewReaderSize(d.stdout, 256<<10)
			s.closeDec = d.stop
			break
		}
		zr, err := kgzip.NewReader(s.buffered)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", s.label, err)
		}
		s.dec = bufio.NewReaderSize(zr, 256<<10)
		s.closeDec = zr.Close
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(s.buffered, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, fmt.Errorf("%s: zstd: %w", s.label, err)
		}
		s.dec = zr
		s.closeDec = func() error { zr.Close(); return nil }
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return nil, fmt.Errorf("%s: xz-compressed layers are not supported", s.label)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return nil, fmt.Errorf("%s: bzip2-compressed layers are not supported", s.label)
	default:
		s.dec = s.buffered
		s.closeDec = func() error { return nil }
	}
	return s, nil
}

func (s *layerStream) Read(p []byte) (int, error) {
	n, err := s.dec.Read(p)
	s.out += int64(n)
	if s.out > s.limits.MaxLayerBytes {
		return n, fmt.Errorf("%s: uncompressed size exceeds the limit of %d bytes", s.label, s.limits.MaxLayerBytes)
	}
	if s.out > 1<<30 && s.out > s.raw.n.Load()*s.limits.MaxExpansion {
		return n, fmt.Errorf("%s: expands more than %dx (%d compressed bytes gave %d): refusing a likely decompression bomb",
			s.label, s.limits.MaxExpansion, s.raw.n.Load(), s.out)
	}
	return n, err
}

// decoderError stops the decoder and says why decompression failed, if it did;
// a tar error caused by a dying decoder is better explained by the decoder.
func (s *layerStream) decoderError() error {
	if s.closeDec == nil {
		return nil
	}
	err := s.closeDec()
	s.closeDec = nil
	if err != nil {
		return fmt.Errorf("%s: decompressing: %w", s.label, err)
	}
	return nil
}

// finish stops decompression, reads the rest of the compressed blob (the tar
// end may come before the compressed stream ends) and checks its digest. A
// blob that does not match its digest explains a decoder's failure, so the
// digest is checked first.
func (s *layerStream) finish() error {
	decErr := s.decoderError()
	if _, err := io.Copy(io.Discard, s.buffered); err != nil {
		return cmp.Or(decErr, fmt.Errorf("%s: reading blob: %w", s.label, err))
	}
	n := s.raw.n.Load()
	if s.wantSize > 0 && n != s.wantSize {
		return fmt.Errorf("%s: blob is %d bytes, manifest says %d", s.label, n, s.wantSize)
	}
	if s.hasher != nil {
		alg, _, _ := strings.Cut(s.want, ":")
		got := fmt.Sprintf("%s:%x", alg, s.hasher.Sum(nil))
		if got != s.want {
			return fmt.Errorf("%s: content digest %s does not match %s: the blob was altered or corrupted", s.label, got, s.want)
		}
	}
	return decErr
}

// close releases the decoder without verifying (after a failed walk).
func (s *layerStream) close() {
	if s.closeDec != nil {
		_ = s.closeDec()
		s.closeDec = nil
	}
}

type countingReader struct {
	r        io.Reader
	n        atomic.Int64
	progress func(int64)
	reported int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	total := c.n.Add(int64(n))
	if c.progress != nil && (total-c.reported >= 1<<20 || err != nil) {
		c.reported = total
		c.progress(total)
	}
	return n, err
}

// externalDecoder runs igzip -d -c with the compressed stream on stdin.
type externalDecoder struct {
	cmd      *exec.Cmd
	stdout   io.ReadCloser
	stderr   *limitedBuffer
	copyDone chan error
}

func startExternal(path string, in io.Reader) (*externalDecoder, error) {
	cmd := exec.Command(path, "-d", "-c")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d := &externalDecoder{cmd: cmd, stdout: stdout, stderr: &limitedBuffer{max: 4096}, copyDone: make(chan error, 1)}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	// A 1 MiB pipe (the unprivileged maximum) instead of 64 KiB: far fewer
	// wake-ups between decoder and reader. Failing to grow it only costs speed.
	for _, p := range []any{stdout, stdin} {
		if f, ok := p.(interface{ Fd() uintptr }); ok {
			_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20)
		}
	}
	go func() {
		_, err := io.Copy(stdin, in)
		stdin.Close()
		d.copyDone <- err
	}()
	return d, nil
}

func (d *externalDecoder) stop() error {
	// Closing stdout makes a still-running decoder die of SIGPIPE; the kill is
	// for one blocked reading stdin. Either way it ends by a signal we sent,
	// while a decoder that found corrupt input exits with a status of its own.
	d.stdout.Close()
	_ = d.cmd.Process.Kill()
	copyErr := <-d.copyDone
	_ = d.cmd.Wait()
	if ws, ok := d.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Exited() && ws.ExitStatus() != 0 {
		msg := strings.TrimSpace(d.stderr.String())
		if msg == "" {
			msg = d.cmd.ProcessState.String()
		}
		return fmt.Errorf("%s: %s", filepath.Base(d.cmd.Path), msg)
	}
	if copyErr != nil && !errors.Is(copyErr, os.ErrClosed) && !errors.Is(copyErr, syscall.EPIPE) {
		return copyErr
	}
	return nil
}

type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
