package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress shows layers being read on a terminal: bytes, total, rate. It is
// silent when standard error is not a terminal.
type progress struct {
	w       io.Writer
	mu      sync.Mutex
	read    map[int]int64
	total   map[int]int64
	start   time.Time
	stop    chan struct{}
	stopped sync.Once
	drawn   bool
}

func newProgress(w io.Writer, enabled bool) *progress {
	f, ok := w.(*os.File)
	if !enabled || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	p := &progress{w: w, read: map[int]int64{}, total: map[int]int64{}, start: time.Now(), stop: make(chan struct{})}
	go p.loop()
	return p
}

func (p *progress) update(layer int, read, total int64) {
	p.mu.Lock()
	p.read[layer], p.total[layer] = read, total
	p.mu.Unlock()
}

func (p *progress) loop() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.draw()
		}
	}
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var read, total int64
	done := 0
	for l, r := range p.read {
		read += r
		total += p.total[l]
		if p.total[l] > 0 && r >= p.total[l] {
			done++
		}
	}
	if len(p.read) == 0 {
		return
	}
	rate := float64(read) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r\033[Kreading layers: %d/%d done  %s / %s  %s/s", done, len(p.total), mib(read), mib(total), mib(int64(rate)))
	p.drawn = true
}

func (p *progress) done() {
	p.stopped.Do(func() {
		close(p.stop)
		p.mu.Lock()
		if p.drawn {
			fmt.Fprint(p.w, "\r\033[K")
		}
		p.mu.Unlock()
	})
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// counter shows a running count or message on a terminal.
type counter struct {
	w     io.Writer
	label string
	mu    sync.Mutex
	once  sync.Once
	drawn bool
}

func newCounter(w io.Writer, enabled bool, label string) *counter {
	f, ok := w.(*os.File)
	if !enabled || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &counter{w: w, label: label}
}

func (c *counter) set(n int) { c.message(fmt.Sprintf("%d %s", n, c.label)) }

func (c *counter) message(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "\r\033[K%s", s)
	c.drawn = true
}

func (c *counter) done() {
	c.once.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.drawn {
			fmt.Fprint(c.w, "\r\033[K")
		}
	})
}
