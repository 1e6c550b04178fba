// Package misconfig checks an image's configuration and file-system facts
// for what weakens isolation or leaks: running as root, no health check,
// build steps that fetch from URLs, privileged ports, sensitive volumes,
// setuid binaries and world-writable files added by application layers,
// package manager caches left in. Each check has an id, a severity and a
// one-line fix; the policy engine decides what to deny.
package misconfig

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/customs-sec/customs"
)

// Check describes one check.
type Check struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Fix      string `json:"fix"`
}

// Checks lists every check, for documentation and policy data.
var Checks = []Check{
	{"root-user", "Image runs as root", customs.SeverityHigh, "Add USER with a non-root uid (e.g. USER 65532:65532) after installing packages."},
	{"no-healthcheck", "No HEALTHCHECK", customs.SeverityLow, "Add a HEALTHCHECK instruction, or configure probes where the image runs."},
	{"add-from-url", "ADD fetches from a URL", customs.SeverityMedium, "Download in a RUN step with a checksum check (or COPY a verified file) instead of ADD URL."},
	{"latest-base", "Base image is not pinned", customs.SeverityMedium, "Build FROM a tag with a version, or better a digest, not :latest."},
	{"privileged-port", "Exposes a privileged port", customs.SeverityLow, "Listen on a port above 1023 and map it where the container runs."},
	{"sensitive-volume", "Declares a sensitive path as a volume", customs.SeverityHigh, "Remove the VOLUME for host-sensitive paths; mount what is needed explicitly at run time."},
	{"setuid-binary", "Setuid/setgid binary added by an application layer", customs.SeverityMedium, "Remove the setuid/setgid bit (chmod u-s,g-s) or the binary in the layer that adds it."},
	{"world-writable", "World-writable file or directory", customs.SeverityMedium, "chmod o-w the path (directories shared by users need the sticky bit: chmod +t)."},
	{"package-cache", "Package manager cache left in the image", customs.SeverityLow, "Clean the cache in the same RUN step that fills it (apt-get clean && rm -rf /var/lib/apt/lists/*)."},
	{"secret-build-arg", "Secret passed as a build argument", customs.SeverityHigh, "Use a build secret mount (RUN --mount=type=secret) instead of ARG: build arguments are recorded in the image."},
}

func check(id string) Check {
	for _, c := range Checks {
		if c.ID == id {
			return c
		}
	}
	panic("unknown check " + id)
}

func issue(id, msg, loc string, layer *customs.LayerRef) customs.Misconfiguration {
	c := check(id)
	return customs.Misconfiguration{ID: c.ID, Title: c.Title, Severity: c.Severity, Message: msg, Fix: c.Fix, Location: loc, Layer: layer}
}

var (
	addURL        = regexp.MustCompile(`(?i)\bADD\b(?:\s+--[a-z-]+=\S+)*\s+(https?|ftp)://\S+`)
	sensitivePath = map[string]bool{"/": true, "/etc": true, "/proc": true, "/sys": true, "/dev": true, "/boot": true, "/root": true,
		"/root/.ssh": true, "/var/run/docker.sock": true, "/run/docker.sock": true, "/var/run": true, "/run": true, "/var/lib/docker": true, "/var/lib/kubelet": true}
	secretArgName = regexp.MustCompile(`(?i)(secret|passw(or)?d|token|api_?key|private_?key|access_?key|credential)`)
)

// BaseLayers is how many bottom layers are the base image, as far as the
// image tells: up to the layer that wrote the distribution's release file.
// 0 when unknown (every layer then counts as the application's).
func BaseLayers(inv *customs.Inventory) int {
	if inv.Distro != nil && inv.Distro.Layer != nil {
		return inv.Distro.Layer.Index + 1
	}
	return 0
}

// Run runs every check on an inventory.
func Run(inv *customs.Inventory) []customs.Misconfiguration {
	var out []customs.Misconfiguration
	img := inv.Image
	cfg := img.Config
	if cfg == nil {
		cfg = &customs.Config{}
	}
	if inv.Image.Source != "dir" && inv.Image.Source != "sbom" {
		user := strings.TrimSpace(cfg.User)
		name, _, _ := strings.Cut(user, ":")
		if user == "" || name == "root" || name == "0" {
			msg := "the image sets no USER, so containers run as root (uid 0)"
			if user != "" {
				msg = fmt.Sprintf("USER is %q: containers run as root (uid 0)", user)
			}
			out = append(out, issue("root-user", msg, "config.User", nil))
		}
		if cfg.Healthcheck == nil || len(cfg.Healthcheck.Test) == 0 || strings.EqualFold(cfg.Healthcheck.Test[0], "NONE") {
			out = append(out, issue("no-healthcheck", "the image defines no HEALTHCHECK", "config.Healthcheck", nil))
		}
	}
	layer := 0
	for i, h := range img.History {
		var ref *customs.LayerRef
		if !h.EmptyLayer && layer < len(img.Layers) {
			l := img.Layers[layer]
			ref = &customs.LayerRef{Index: layer, DiffID: l.DiffID, Digest: l.Digest}
		}
		if m := addURL.FindString(h.CreatedBy); m != "" {
			out = append(out, issue("add-from-url", "build step "+strconv.Itoa(i)+": "+clip(m, 160), fmt.Sprintf("history[%d].created_by", i), ref))
		}
		for _, kv := range customs.BuildArgs(h.CreatedBy) {
			k, v, _ := strings.Cut(kv, "=")
			if secretArgName.MatchString(k) && v != "" {
				out = append(out, issue("secret-build-arg", fmt.Sprintf("build argument %s is recorded in the image history", k), fmt.Sprintf("history[%d].created_by", i), ref))
			}
		}
		if !h.EmptyLayer {
			layer++
		}
	}
	if base := cfg.Labels["org.opencontainers.image.base.name"]; base != "" {
		if tag := baseTag(base); tag == "" || tag == "latest" {
			out = append(out, issue("latest-base", fmt.Sprintf("base image %s is not pinned to a version", base), "config.Labels[org.opencontainers.image.base.name]", nil))
		}
	}
	for _, p := range cfg.ExposedPorts {
		num, _, _ := strings.Cut(p, "/")
		if n, err := strconv.Atoi(num); err == nil && n > 0 && n < 1024 {
			out = append(out, issue("privileged-port", "exposes port "+p+", which needs root or CAP_NET_BIND_SERVICE", "config.ExposedPorts", nil))
		}
	}
	for _, v := range cfg.Volumes {
		if sensitivePath[strings.TrimSuffix(v, "/")] || v == "/" {
			out = append(out, issue("sensitive-volume", "VOLUME "+v, "config.Volumes", nil))
		}
	}
	// Setuid binaries matter when the application adds them; the base
	// image's own (passwd, su) are the distribution's business.
	appStart := BaseLayers(inv)
	if appStart == 0 && len(img.Layers) > 1 {
		appStart = 1
	}
	for _, f := range inv.FileIssues {
		l := f.Layer
		switch f.Kind {
		case "setuid", "setgid":
			if f.Layer.Index >= appStart {
				out = append(out, issue("setuid-binary", fmt.Sprintf("%s (mode %s) is %s", f.Path, f.Mode, f.Kind), f.Path, &l))
			}
		case "world-writable":
			out = append(out, issue("world-writable", fmt.Sprintf("%s (mode %s) is writable by any user", f.Path, f.Mode), f.Path, &l))
		case "package-cache":
			out = append(out, issue("package-cache", fmt.Sprintf("%s holds %s", f.Path, f.Mode), f.Path, &l))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return customs.SeverityRank(out[i].Severity) > customs.SeverityRank(out[j].Severity)
	})
	return out
}

func baseTag(ref string) string {
	if strings.Contains(ref, "@sha256:") {
		return "digest"
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if _, tag, ok := strings.Cut(last, ":"); ok {
		return tag
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
