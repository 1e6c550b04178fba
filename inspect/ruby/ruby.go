// Package ruby catalogs Ruby gems: the specifications RubyGems writes for
// every installed gem (specifications/*.gemspec in any gem directory, Ruby's
// default gems in specifications/default/ included) and the gems a
// Gemfile.lock locks. Gemspecs are Ruby code: they are read with patterns
// for the assignments RubyGems generates, never executed.
package ruby

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/purl"
)

const (
	// maxGemspec bounds a gemspec; generated ones are a few KiB, but a
	// gem's file list can make one large.
	maxGemspec  = 8 << 20
	maxLockFile = 64 << 20
	maxLine     = 256 << 10
	maxPackages = 200000
	maxLicenses = 64
	maxNameLen  = 256
)

// Cataloger reads gem specifications and Gemfile.lock files.
type Cataloger struct{}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "ruby" }

// Wants implements inspect.Cataloger.
func (Cataloger) Wants(p string, e *image.Entry) bool {
	if e.Kind != image.KindFile && e.Kind != image.KindHardlink {
		return false
	}
	slash := strings.LastIndexByte(p, '/')
	base := p[slash+1:]
	if base == "Gemfile.lock" || base == "gems.locked" {
		return !inInstalledGem(p)
	}
	if !strings.HasSuffix(base, ".gemspec") || slash < 0 {
		return false
	}
	dir := p[:slash]
	return isDir(dir, "specifications") || isDir(dir, "specifications/default")
}

// isDir says whether dir is name or ends in "/"+name.
func isDir(dir, name string) bool {
	return dir == name || strings.HasSuffix(dir, name) && dir[len(dir)-len(name)-1] == '/'
}

// inInstalledGem says whether p is inside an installed gem
// (.../gems/NAME-VERSION/Gemfile.lock, or deeper in it), whose lock files
// are how the gem was developed, not what the image runs.
func inInstalledGem(p string) bool {
	parts := strings.Split(p, "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "gems" && installedGemDir.MatchString(parts[i+1]) {
			return true
		}
	}
	return false
}

// installedGemDir is a gem's directory name: NAME-VERSION, or NAME-REVISION
// for a gem Bundler checked out of git (bundler/gems/rails-abc123).
var installedGemDir = regexp.MustCompile(`^[A-Za-z0-9._-]+-[0-9a-f]*[0-9][0-9A-Za-z.]*(-[A-Za-z0-9_.-]+)?$`)

// Parse implements inspect.Cataloger.
func (Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	base := path.Base(f.Path)
	if strings.HasSuffix(base, ".gemspec") {
		p, warns, err := ParseGemspec(r)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(path.Dir(f.Path), "specifications/default") {
			p.Metadata = withKey(p.Metadata, "default_gem", "true")
		}
		return &inspect.Parsed{Packages: []customs.Package{p}, Warnings: warns}, nil
	}
	b, err := inspect.ReadAll(r, maxLockFile)
	if errors.Is(err, inspect.ErrTooLarge) {
		return &inspect.Parsed{Warnings: []string{fmt.Sprintf("%s over %d MiB: not read", base, maxLockFile>>20)}}, nil
	}
	if err != nil {
		return nil, err
	}
	pkgs, warns := ParseGemfileLock(b)
	return &inspect.Parsed{Packages: pkgs, Warnings: warns}, nil
}

// Collect implements inspect.Cataloger.
func (Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	return inspect.VisiblePackages(env, results), nil
}

var (
	// RubyGems (2.0+) starts a generated spec with "# stub: NAME VERSION PLATFORM PATHS".
	stubRe = regexp.MustCompile(`^# stub: (\S+) (\S+) (\S+)`)
	// The assignments RubyGems generates: "s.name = "rake".freeze",
	// "s.version = "13.0.6"", "s.licenses = ["MIT".freeze]"; older ones
	// write %q{rake}.
	assignRe = regexp.MustCompile(`^\s*[A-Za-z_]\w*\.(name|version|platform|licenses|license)\s*=\s*(.*)$`)
	// A Ruby string literal: double-quoted (with escapes), single-quoted,
	// or %q{...}.
	stringRe = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|%q\{([^}]*)\}`)
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	// Gem::Version's pattern, with the version required.
	versionRe = regexp.MustCompile(`^[0-9]+(\.[0-9A-Za-z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
)

// ParseGemspec reads a gem specification as RubyGems writes it under
// specifications/: the name, version, platform and licenses assignments
// (the stub line gives name, version and platform when an assignment is
// missing).
func ParseGemspec(r io.Reader) (customs.Package, []string, error) {
	lr := inspect.NewLineReader(io.LimitReader(r, maxGemspec+1), maxLine)
	var name, version, platform string
	var stubName, stubVersion, stubPlatform string
	var licenses []string
	seen := map[string]bool{}
	read := 0
	for {
		line, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return customs.Package{}, nil, fmt.Errorf("reading gemspec: %w", err)
		}
		read += len(line) + 1
		if m := stubRe.FindSubmatch(line); m != nil && stubName == "" {
			stubName, stubVersion, stubPlatform = string(m[1]), string(m[2]), string(m[3])
			continue
		}
		if !bytes.Contains(line, []byte("=")) {
			continue
		}
		m := assignRe.FindSubmatch(line)
		if m == nil {
			continue
		}
		field := string(m[1])
		if field == "license" {
			field = "licenses"
		}
		if seen[field] {
			continue // the first assignment is the generated one
		}
		seen[field] = true
		vals := literals(string(m[2]))
		switch field {
		case "licenses":
			for _, v := range vals {
				if v != "" && len(licenses) < maxLicenses {
					licenses = append(licenses, v)
				}
			}
		case "name", "version", "platform":
			if len(vals) == 0 {
				continue
			}
			switch field {
			case "name":
				name = vals[0]
			case "version":
				version = vals[0]
			case "platform":
				platform = vals[0]
			}
		}
	}
	var warns []string
	if read > maxGemspec {
		warns = append(warns, fmt.Sprintf("gemspec over %d MiB; the rest was not read", maxGemspec>>20))
	}
	if name == "" {
		name = stubName
	}
	if version == "" {
		version = stubVersion
	}
	if platform == "" && stubPlatform != "" {
		platform = stubPlatform
	}
	if name == "" || version == "" {
		return customs.Package{}, nil, errors.New("gemspec without name or version")
	}
	if !validName(name) || !versionRe.MatchString(version) {
		return customs.Package{}, nil, fmt.Errorf("invalid gem name or version %q %q", truncate(name, 64), truncate(version, 64))
	}
	p := newGem(name, version, platform, nil)
	p.Licenses = licenses
	return p, warns, nil
}

// literals returns the string literals of a Ruby expression, unescaped.
func literals(expr string) []string {
	var out []string
	for _, m := range stringRe.FindAllStringSubmatch(expr, maxLicenses) {
		switch {
		case strings.HasPrefix(m[0], `"`):
			out = append(out, unescapeDouble(m[1]))
		case strings.HasPrefix(m[0], `'`):
			out = append(out, strings.NewReplacer(`\\`, `\`, `\'`, `'`).Replace(m[2]))
		default:
			out = append(out, m[3])
		}
	}
	return out
}

// unescapeDouble undoes the escapes Ruby's String#inspect writes.
func unescapeDouble(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'n':
			sb.WriteByte('\n')
		case 't':
			sb.WriteByte('\t')
		case 'r':
			sb.WriteByte('\r')
		case 'e':
			sb.WriteByte(0x1b)
		case 's':
			sb.WriteByte(' ')
		case 'u':
			hex := ""
			switch {
			case i+1 < len(s) && s[i+1] == '{':
				if end := strings.IndexByte(s[i:], '}'); end > 0 {
					hex, i = s[i+2:i+end], i+end
				}
			case i+4 < len(s):
				hex, i = s[i+1:i+5], i+4
			}
			if v, err := strconv.ParseUint(hex, 16, 32); err == nil {
				sb.WriteRune(rune(v))
			}
		default:
			sb.WriteByte(e) // \" \\ \# and the rest stand for themselves
		}
	}
	return sb.String()
}

func validName(n string) bool {
	return len(n) <= maxNameLen && nameRe.MatchString(n)
}

// newGem makes a RubyGems package. A platform other than "ruby" (a
// precompiled gem) goes in the purl's platform qualifier and Metadata; the
// version stays the gem's own, as advisories write it. A gem from a git
// repository or a local path keeps that in Metadata["source"] and gets no
// ecosystem: RubyGems advisories are about what rubygems.org publishes.
func newGem(name, version, platform string, md map[string]string) customs.Package {
	if platform == "ruby" {
		platform = ""
	}
	if platform != "" {
		md = withKey(md, "platform", platform)
	}
	eco := customs.LanguageEcosystem(customs.TypeGem)
	if md["source"] != "" {
		eco = ""
	}
	return customs.Package{
		Name: name, Version: version, Type: customs.TypeGem, Ecosystem: eco,
		PURL:     purl.New(customs.TypeGem, "", name, version, map[string]string{"platform": platform}),
		Metadata: md,
	}
}

func withKey(md map[string]string, k, v string) map[string]string {
	if md == nil {
		md = map[string]string{}
	}
	md[k] = v
	return md
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
