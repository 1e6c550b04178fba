package inspect

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/customs-sec/customs"
)

// ErrTooLarge is returned by ReadAll for a file over its limit.
var ErrTooLarge = errors.New("file too large")

// ReadAll reads a whole file of at most max bytes.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)
	}
	return b, nil
}

// LineReader reads lines of bounded length: a longer line is cut to the limit
// (Truncated counts them) instead of failing the whole file, so one 100 MB
// field costs one warning, not the package database.
type LineReader struct {
	r         *bufio.Reader
	max       int
	line      []byte
	Truncated int
	Lines     int
}

// NewLineReader reads lines of at most max bytes from r.
func NewLineReader(r io.Reader, max int) *LineReader {
	size := 64 << 10
	if max < size {
		size = max + 1
	}
	return &LineReader{r: bufio.NewReaderSize(r, size), max: max}
}

// Next returns the next line without its newline; ok is false at the end.
// The slice is valid until the next call.
func (l *LineReader) Next() (line []byte, err error) {
	l.line = l.line[:0]
	cut := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !cut {
			if room := l.max - len(l.line); len(chunk) > room {
				l.line = append(l.line, chunk[:room]...)
				cut = true
			} else {
				l.line = append(l.line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (len(l.line) == 0 && !cut) {
			return nil, err
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		break
	}
	if cut {
		l.Truncated++
	}
	l.Lines++
	n := len(l.line)
	if n > 0 && l.line[n-1] == '\n' {
		n--
		if n > 0 && l.line[n-1] == '\r' {
			n--
		}
	}
	return l.line[:n], nil
}

// VisiblePackages gives the packages parsed from files that survive in the
// final filesystem, each placed in the layer and file it came from.
func VisiblePackages(env *Env, results []Result) []customs.Package {
	var out []customs.Package
	for _, r := range results {
		if !r.Visible || r.Parsed == nil {
			continue
		}
		for _, p := range r.Parsed.Packages {
			p.Layer = env.LayerRef(r.Layer)
			if len(p.Locations) == 0 {
				p.Locations = []string{"/" + r.Path}
			}
			out = append(out, p)
		}
	}
	return out
}

// FirstListed reads a package database that layers rewrite (dpkg's status,
// apk's installed, the rpm database). It returns the packages of the copy in
// the final filesystem, each attributed to the earliest layer from which
// every copy of that database, up to the final one, lists it (same key): the
// layer that introduced it. results are the copies of one database path.
func FirstListed(env *Env, results []Result, key func(customs.Package) string) []customs.Package {
	sorted := append([]Result(nil), results...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Layer < sorted[j].Layer })
	top := -1
	for i := len(sorted) - 1; i >= 0; i-- {
		if sorted[i].Visible {
			top = i
			break
		}
	}
	if top < 0 || sorted[top].Parsed == nil {
		return nil
	}
	lists := make([]map[string]bool, top)
	for i := 0; i < top; i++ {
		lists[i] = map[string]bool{}
		if sorted[i].Parsed != nil {
			for _, p := range sorted[i].Parsed.Packages {
				lists[i][key(p)] = true
			}
		}
	}
	var out []customs.Package
	for _, p := range sorted[top].Parsed.Packages {
		layer := sorted[top].Layer
		for i := top - 1; i >= 0 && lists[i][key(p)]; i-- {
			layer = sorted[i].Layer
		}
		p.Layer = env.LayerRef(layer)
		if len(p.Locations) == 0 {
			p.Locations = []string{"/" + sorted[top].Path}
		}
		out = append(out, p)
	}
	return out
}

// GroupByPath splits results by file path.
func GroupByPath(results []Result) map[string][]Result {
	m := map[string][]Result{}
	for _, r := range results {
		m[r.Path] = append(m[r.Path], r)
	}
	return m
}
