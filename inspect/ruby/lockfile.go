package ruby

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect"
)

// specRe is a locked gem: four spaces, "NAME (VERSION)" or
// "NAME (VERSION-PLATFORM)". As Bundler's own lockfile parser does, the
// version ends at the first "-" and the rest is the platform.
var specRe = regexp.MustCompile(`^ {4}([^ ()]+) \(([^-()]*)(?:-([^()]*))?\)!?$`)

// ParseGemfileLock reads a Gemfile.lock: the gems under "specs:" of its GEM
// sections (from a gem server: RubyGems), GIT sections (from a repository)
// and PATH sections (from a local directory). Their own dependencies, one
// level deeper, are entries of the same list and are not read twice.
// Gemfile.lock does not record Gemfile groups, so nothing is marked dev.
func ParseGemfileLock(b []byte) ([]customs.Package, []string) {
	lr := inspect.NewLineReader(bytes.NewReader(b), maxLine)
	var out []customs.Package
	var section, remote, revision string
	inSpecs := false
	seen := map[string]int{} // name@version|source -> index in out
	for {
		line, err := lr.Next()
		if err != nil {
			break // io.EOF: the reader reads memory
		}
		s := string(bytes.TrimRight(line, " \r"))
		if s == "" {
			continue
		}
		if s[0] != ' ' {
			section, remote, revision, inSpecs = s, "", "", false
			continue
		}
		if section != "GEM" && section != "GIT" && section != "PATH" {
			continue
		}
		switch t := strings.TrimSpace(s); {
		case strings.HasPrefix(s, "  ") && !strings.HasPrefix(s, "   ") && strings.HasPrefix(t, "remote:"):
			if remote == "" {
				remote = strings.TrimSpace(strings.TrimPrefix(t, "remote:"))
			}
			continue
		case strings.HasPrefix(t, "revision:"):
			revision = strings.TrimSpace(strings.TrimPrefix(t, "revision:"))
			continue
		case t == "specs:":
			inSpecs = true
			continue
		}
		if !inSpecs {
			continue
		}
		m := specRe.FindStringSubmatch(s)
		if m == nil {
			continue // a dependency line (six spaces) or something else
		}
		name, version, platform := m[1], m[2], m[3]
		if !validName(name) || !versionRe.MatchString(version) {
			continue
		}
		var md map[string]string
		switch section {
		case "GIT":
			src := "git+" + remote
			if revision != "" {
				src += "@" + revision
			}
			md = map[string]string{"source": truncate(src, 512)}
		case "PATH":
			md = map[string]string{"source": truncate("path+"+remote, 512)}
		}
		// A gem locked for several platforms is one gem at one version;
		// which platform's build is installed the lock does not say.
		key := name + "@" + version + "|" + md["source"]
		if i, ok := seen[key]; ok {
			if out[i].Metadata["platform"] != platform {
				out[i] = newGem(name, version, "", md)
			}
			continue
		}
		seen[key] = len(out)
		out = append(out, newGem(name, version, platform, md))
		if len(out) >= maxPackages {
			return out, []string{fmt.Sprintf("more than %d gems; list cut", maxPackages)}
		}
	}
	var warns []string
	if lr.Truncated > 0 {
		warns = append(warns, fmt.Sprintf("%d lines longer than %d bytes were cut", lr.Truncated, maxLine))
	}
	return out, warns
}
