// Command mkimage assembles the demo image's OCI layout from layer
// directories: each directory becomes one gzipped tar layer, written
// deterministically (sorted names, fixed times), with the history, config and
// ref name given. examples/demo/build.sh runs it.
//
//	mkimage -out DIR -ref demo -layer DIR=CREATED_BY ... [-env K=V] [-user U] [-label K=V]
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

var created = time.Date(2025, 5, 20, 0, 0, 0, 0, time.UTC)

func main() {
	out := flag.String("out", "", "OCI layout directory to write")
	ref := flag.String("ref", "demo", "org.opencontainers.image.ref.name")
	user := flag.String("user", "", "config User")
	var layers, env, labels, cmd multi
	flag.Var(&layers, "layer", "DIR=CREATED_BY (repeatable, bottom first)")
	flag.Var(&env, "env", "K=V (repeatable)")
	flag.Var(&labels, "label", "K=V (repeatable)")
	flag.Var(&cmd, "cmd", "Cmd argument (repeatable)")
	flag.Parse()
	if *out == "" || len(layers) == 0 {
		log.Fatal("usage: mkimage -out DIR -layer DIR=CREATED_BY ...")
	}
	img := empty.Image
	for _, l := range layers {
		dir, by, _ := strings.Cut(l, "=")
		b, err := tarDir(dir)
		if err != nil {
			log.Fatalf("layer %s: %v", dir, err)
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
			tarball.WithCompressedCaching)
		if err != nil {
			log.Fatal(err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: by, Created: v1.Time{Time: created}}}); err != nil {
			log.Fatal(err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		log.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", "amd64", v1.Time{Time: created}
	cfg.Config.User = *user
	cfg.Config.Env = env
	cfg.Config.Cmd = cmd
	cfg.Config.WorkingDir = "/app"
	cfg.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	cfg.Config.Labels = map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		cfg.Config.Labels[k] = v
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		log.Fatal(err)
	}
	os.RemoveAll(*out)
	p, err := layout.Write(*out, empty.Index)
	if err != nil {
		log.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": *ref})); err != nil {
		log.Fatal(err)
	}
	d, _ := img.Digest()
	fmt.Println(*ref, d)
}

// tarDir writes a directory as a layer tar. A file named ".wh.NAME" stays a
// whiteout; modes and symlinks are kept; owners are root; times are fixed.
func tarDir(dir string) ([]byte, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return nil, err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = created, time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return raw.Bytes(), nil
}
