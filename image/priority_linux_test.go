package image_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/internal/testimage"
)

// TestSmallerLayersInflateInBackground: every layer's decoder but the
// largest's runs 10 nice levels below this process. The decoder is a
// script that records its nice value once its first input byte arrives
// (input is fed after the priority is set) and then inflates with gzip,
// keeping the first tar header it writes, which names its layer's file.
func TestSmallerLayersInflateInBackground(t *testing.T) {
	testimage.Require(t, "gzip")
	dir := t.TempDir()
	script := filepath.Join(dir, "decoder")
	err := os.WriteFile(script, []byte(`#!/bin/sh
D="`+dir+`"
dd bs=1 count=1 of="$D/first.$$" 2>/dev/null
nice >"$D/nice.$$"
{ cat "$D/first.$$"; cat; } | gzip "$@" | { dd iflag=fullblock bs=512 count=1 2>/dev/null | tee "$D/header.$$"; cat; }
`), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CUSTOMS_GZIP", script)
	// Random bodies do not compress, so the compressed sizes keep this order.
	sizes := map[string]int{"small": 20 << 10, "largest": 300 << 10, "middle": 60 << 10}
	var layers [][]byte
	for _, name := range []string{"small", "largest", "middle"} {
		body := make([]byte, sizes[name])
		rand.Read(body)
		layers = append(layers, testimage.LayerTar(t, []testimage.File{{Name: name, Body: string(body)}}))
	}
	layout := testimage.BuildLayout(t, "three", layers...)
	if _, _, err := walkAll(t, "oci:"+layout+":three", image.Options{}); err != nil {
		t.Fatal(err)
	}

	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours := 20 - prio // the raw system call gives 20-nice
	records, _ := filepath.Glob(filepath.Join(dir, "nice.*"))
	if len(records) != len(sizes) {
		t.Fatalf("%d decoders recorded themselves, want %d", len(records), len(sizes))
	}
	seen := map[string]bool{}
	for _, r := range records {
		b, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		nice, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		header, err := os.ReadFile(strings.Replace(r, "nice.", "header.", 1))
		if err != nil {
			t.Fatal(err)
		}
		name, _, _ := strings.Cut(string(header), "\x00")
		want := min(19, ours+10)
		if name == "largest" {
			want = ours
		}
		if nice != want {
			t.Errorf("the decoder of layer %q ran at nice %d, want %d (this process: %d)", name, nice, want, ours)
		}
		seen[name] = true
	}
	if len(seen) != len(sizes) {
		t.Errorf("decoders of layers %v, want %d layers", seen, len(sizes))
	}
}
