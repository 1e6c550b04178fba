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
	// fileSize and hashed: a blob file fed to the external decoder by
	// splice (startSpliced) is hashed on its own goroutine, which reports
	// on hashed when done.
	fileSize int64
	hashed   chan error
	stopHash atomic.Bool
	// file and fileStat: the spliced blob file and its stamp when reading
	// began. The decoder and the hasher read the file apart, so a write to
	// it in between could show them different bytes: finish refuses a
	// blob whose stamp changed.
	file     *os.File
	fileStat string

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
	}
	if f, ok := rc.(*os.File); ok {
		if ext, size := externalForFile(f); ext != "" {
			return s, s.startSpliced(ext, info.background, f, size)
		}
	}
	var src io.Reader = s.raw
	if s.hasher != nil {
		src = io.TeeReader(src, s.hasher)
	}
	s.buffered = bufio.NewReaderSize(src, 256<<10)
	magic, err := s.buffered.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: reading blob: %w", s.label, err)
	}
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		if ext := externalGzip(info.size); ext != "" {
			d, err := startExternal(ext, info.background, copyFrom(s.buffered))
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

var gzipMagic = []byte{0x1f, 0x8b}

// externalGzip is the external inflater for a gzip blob of size bytes (0:
// unknown), or "" for the in-process one.
func externalGzip(size int64) string {
	switch dec := gzipDecoder(); {
	case dec == "auto" && (size == 0 || size >= externalMinSize):
		return igzipPath()
	case dec != "auto" && dec != "go":
		return dec
	}
	return ""
}

// externalForFile says which external inflater takes a gzip blob kept as a
// regular file, with the file's size, or "" when the blob is not that.
func externalForFile(f *os.File) (string, int64) {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return "", 0
	}
	var magic [2]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || !bytes.Equal(magic[:], gzipMagic) {
		return "", 0
	}
	return externalGzip(st.Size()), st.Size()
}

// startSpliced starts the external inflater on a blob file. The file's
// pages are spliced into the inflater's stdin pipe, never copied through
// this process, and the blob is hashed from the file alongside, by reads at
// offsets. Copying every compressed byte in and out of this process cost
// about 40 ms of system time on the corpus's debian-app.
func (s *layerStream) startSpliced(ext string, background bool, f *os.File, size int64) error {
	s.file, s.fileStat = f, fileStamp(f) // before anything reads it
	d, err := startExternal(ext, background, spliceFrom(f, size))
	if err != nil {
		return fmt.Errorf("%s: %w", s.label, err)
	}
	s.ext, s.fileSize = d, size
	s.dec = bufio.NewReaderSize(d.stdout, 256<<10)
	s.closeDec = d.stop
	s.raw.r = io.NewSectionReader(f, 0, size)
	s.hashed = make(chan error, 1)
	go func() {
		buf := make([]byte, 256<<10)
		for !s.stopHash.Load() {
			n, err := s.raw.Read(buf)
			if s.hasher != nil {
				s.hasher.Write(buf[:n])
			}
			if err == io.EOF {
				s.hashed <- nil
				return
			}
			if err != nil {
				s.hashed <- err
				return
			}
		}
		s.hashed <- errors.New("stopped")
	}()
	return nil
}

// fileStamp is what changes when a file is written: its size, modification
// time and (where the system keeps one) change time.
func fileStamp(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return "unknown: " + err.Error()
	}
	return fmt.Sprintf("%d %d %s", fi.Size(), fi.ModTime().UnixNano(), changeTime(fi))
}

// compressedSoFar is how many compressed bytes the decoder may have read:
// for a spliced blob file, all of them.
func (s *layerStream) compressedSoFar() int64 {
	if s.fileSize > 0 {
		return s.fileSize
	}
	return s.raw.n.Load()
}

func (s *layerStream) Read(p []byte) (int, error) {
	n, err := s.dec.Read(p)
	s.out += int64(n)
	if s.out > s.limits.MaxLayerBytes {
		return n, fmt.Errorf("%s: uncompressed size exceeds the limit of %d bytes", s.label, s.limits.MaxLayerBytes)
	}
	if in := s.compressedSoFar(); s.out > 1<<30 && s.out > in*s.limits.MaxExpansion {
		return n, fmt.Errorf("%s: expands more than %dx (%d compressed bytes gave %d): refusing a likely decompression bomb",
			s.label, s.limits.MaxExpansion, in, s.out)
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
	if s.hashed != nil {
		if err := s.waitHashed(); err != nil {
			return cmp.Or(decErr, fmt.Errorf("%s: reading blob: %w", s.label, err))
		}
	} else if _, err := io.Copy(io.Discard, s.buffered); err != nil {
		return cmp.Or(decErr, fmt.Errorf("%s: reading blob: %w", s.label, err))
	}
	if s.file != nil && fileStamp(s.file) != s.fileStat {
		return fmt.Errorf("%s: the blob file changed while it was being read", s.label)
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
	s.stopHash.Store(true) // a cancelled scan does not wait for the whole blob's hash
	_ = s.waitHashed()
}

// waitHashed waits for a spliced blob's hashing, which reads the blob file:
// the file is closed after the walk.
func (s *layerStream) waitHashed() error {
	if s.hashed == nil {
		return nil
	}
	err := <-s.hashed
	s.hashed = nil
	return err
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

func startExternal(path string, background bool, feed func(stdin *os.File) error) (*externalDecoder, error) {
	cmd := exec.Command(path, "-d", "-c")
	stdinR, stdin, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdin = stdinR
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		stdinR.Close()
		stdin.Close()
		return nil, err
	}
	d := &externalDecoder{cmd: cmd, stdout: stdout, stderr: &limitedBuffer{max: 4096}, copyDone: make(chan error, 1)}
	cmd.Stderr = d.stderr
	err = cmd.Start()
	stdinR.Close() // the decoder's now
	if err != nil {
		stdin.Close()
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	if background {
		lowerPriority(cmd.Process.Pid)
	}
	// A 1 MiB pipe (the unprivileged maximum) instead of 64 KiB: far fewer
	// wake-ups between decoder and reader. Failing to grow it only costs speed.
	for _, p := range []any{stdout, stdin} {
		if f, ok := p.(interface{ Fd() uintptr }); ok {
			growPipe(f.Fd())
		}
	}
	go func() {
		err := feed(stdin)
		stdin.Close()
		d.copyDone <- err
	}()
	return d, nil
}

// copyFrom feeds a decoder's stdin from a reader.
func copyFrom(in io.Reader) func(*os.File) error {
	return func(stdin *os.File) error {
		_, err := io.Copy(stdin, in)
		return err
	}
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
