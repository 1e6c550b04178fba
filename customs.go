// Package customs holds the domain types every stage of the pipeline shares:
// the inventory of an image (its packages, distribution, layers and config),
// so that acquire, inspect, match, judge and act can pass plain values to one
// another and a stored inventory can be re-judged later without the image.
package customs

import (
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// InventorySchema names the version of the native JSON inventory format.
const InventorySchema = "customs.inventory/v1"

// Package types, as in purl (https://github.com/package-url/purl-spec).
const (
	TypeDeb      = "deb"
	TypeApk      = "apk"
	TypeRPM      = "rpm"
	TypeGo       = "golang"
	TypeNPM      = "npm"
	TypePyPI     = "pypi"
	TypeMaven    = "maven"
	TypeGem      = "gem"
	TypeCargo    = "cargo"
	TypeComposer = "composer"
	TypeNuGet    = "nuget"
)

// Inventory is everything inspect found in one image: our SBOM.
type Inventory struct {
	Schema   string    `json:"schema"`
	Tool     Tool      `json:"tool"`
	Created  time.Time `json:"created"`
	Image    Image     `json:"image"`
	Distro   *Distro   `json:"distro,omitempty"`
	Packages []Package `json:"packages"`
	// Secrets and FileIssues are found by the same single pass over the layers.
	Secrets    []Secret    `json:"secrets,omitempty"`
	FileIssues []FileIssue `json:"file_issues,omitempty"`
	// Warnings name what could not be read (a skipped file, a limit hit), so a
	// short inventory is never silently short.
	Warnings []string `json:"warnings,omitempty"`
}

// Tool identifies the program that made an inventory.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Image identifies the scanned artifact and carries its configuration.
type Image struct {
	// Ref is the reference the user gave (e.g. "oci:dir:tag", "registry/repo:tag").
	Ref string `json:"ref"`
	// Source is the transport the image came from: oci, oci-archive,
	// docker-archive, dir, registry or sbom.
	Source string `json:"source"`
	// ManifestDigest is empty when the source has no manifest of its own
	// (a classic docker save archive, a directory).
	ManifestDigest string `json:"manifest_digest,omitempty"`
	// IndexDigest is the multi-platform index the image was picked from,
	// when it was: signatures made on the index (cosign signs what a tag
	// names) vouch for it too.
	IndexDigest  string     `json:"index_digest,omitempty"`
	ConfigDigest string     `json:"config_digest,omitempty"`
	MediaType    string     `json:"media_type,omitempty"`
	RepoTags     []string   `json:"repo_tags,omitempty"`
	RepoDigests  []string   `json:"repo_digests,omitempty"`
	OS           string     `json:"os,omitempty"`
	Architecture string     `json:"architecture,omitempty"`
	Variant      string     `json:"variant,omitempty"`
	Created      *time.Time `json:"created,omitempty"`
	Layers       []Layer    `json:"layers,omitempty"`
	Config       *Config    `json:"config,omitempty"`
	History      []History  `json:"history,omitempty"`
}

// ID is the most specific identity the image has: the manifest digest, else
// the config digest (tarballs have no manifest digest of their own).
func (i Image) ID() string {
	if i.ManifestDigest != "" {
		return i.ManifestDigest
	}
	return i.ConfigDigest
}

// Layer is one filesystem layer, bottom first.
type Layer struct {
	Index     int    `json:"index"`
	Digest    string `json:"digest,omitempty"`
	DiffID    string `json:"diff_id,omitempty"`
	Size      int64  `json:"size,omitempty"`
	MediaType string `json:"media_type,omitempty"`
	CreatedBy string `json:"created_by,omitempty"`
}

// Config is the part of the OCI image configuration that describes how a
// container runs.
type Config struct {
	User         string            `json:"user,omitempty"`
	Env          []string          `json:"env,omitempty"`
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	WorkingDir   string            `json:"working_dir,omitempty"`
	ExposedPorts []string          `json:"exposed_ports,omitempty"`
	Volumes      []string          `json:"volumes,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	StopSignal   string            `json:"stop_signal,omitempty"`
	Healthcheck  *Healthcheck      `json:"healthcheck,omitempty"`
}

// Healthcheck is the image's HEALTHCHECK instruction.
type Healthcheck struct {
	Test []string `json:"test,omitempty"`
}

// History is one build step recorded in the image config.
type History struct {
	Created    *time.Time `json:"created,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	Comment    string     `json:"comment,omitempty"`
	EmptyLayer bool       `json:"empty_layer,omitempty"`
}

// Distro is the operating system distribution of an image, from os-release.
type Distro struct {
	ID         string   `json:"id"`                   // debian, ubuntu, alpine, rhel, ...
	VersionID  string   `json:"version_id,omitempty"` // 12, 22.04, 3.19.1
	Codename   string   `json:"codename,omitempty"`   // bookworm
	Name       string   `json:"name,omitempty"`
	PrettyName string   `json:"pretty_name,omitempty"`
	IDLike     []string `json:"id_like,omitempty"`
	CPE        string   `json:"cpe,omitempty"`
	// Source is the file the distribution was read from, and Layer the
	// layer that wrote it (the top of the base image, as far as an image
	// tells).
	Source string    `json:"source,omitempty"`
	Layer  *LayerRef `json:"layer,omitempty"`
}

// LayerRef says which layer wrote something.
type LayerRef struct {
	Index  int    `json:"index"`
	DiffID string `json:"diff_id,omitempty"`
	Digest string `json:"digest,omitempty"`
}

// Package is one installed package: an OS package or an application dependency.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Type is the purl type (deb, apk, rpm, golang, npm, ...).
	Type string `json:"type"`
	// Ecosystem is the OSV ecosystem its advisories are filed under
	// ("Debian:12", "Alpine:v3.19", "Go", "npm", ...), so matching is a lookup.
	Ecosystem string `json:"ecosystem,omitempty"`
	PURL      string `json:"purl"`
	// Source and SourceVersion name the source package it was built from;
	// distro advisories are written against source packages.
	Source        string   `json:"source,omitempty"`
	SourceVersion string   `json:"source_version,omitempty"`
	Arch          string   `json:"arch,omitempty"`
	Maintainer    string   `json:"maintainer,omitempty"`
	Licenses      []string `json:"licenses,omitempty"`
	// Layer is the layer that introduced the package (for package databases,
	// the first layer whose copy of the database lists it; for files, the layer
	// that wrote the file).
	Layer LayerRef `json:"layer"`
	// Locations are the files the package was found in.
	Locations []string `json:"locations"`
	// Files are the files the package installed, where its database says so.
	Files []string `json:"files,omitempty"`
	// FoundBy names the cataloger.
	FoundBy string `json:"found_by,omitempty"`
	// Metadata carries ecosystem-specific facts (build settings, dev=true,
	// confidence=low for manifests that only declare a dependency).
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Key identifies a package within an inventory.
func (p Package) Key() string {
	return p.Type + "|" + p.Name + "|" + p.Version + "|" + p.Arch + "|" + firstOr(p.Locations, "")
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}

// Version is customs' version: the module version when built with go install,
// else "dev" plus the VCS revision when known.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "dev-" + s.Value[:12]
		}
	}
	return "dev"
}

// Secret is a credential found in an image: in a file of some layer (even
// one a later layer deleted: the bytes still ship in the image) or in the
// image configuration.
type Secret struct {
	RuleID   string `json:"rule_id"`
	Category string `json:"category"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	// Location is the file ("/root/.aws/credentials") or the config field
	// ("config.Env", "history[3].created_by").
	Location string `json:"location"`
	Line     int    `json:"line,omitempty"`
	// Match shows the secret with all but its first and last characters masked.
	Match string   `json:"match"`
	Layer LayerRef `json:"layer"`
	// DeletedIn is the layer that removed the file from the filesystem a
	// container sees; the secret is still in Layer.
	DeletedIn *LayerRef `json:"deleted_in,omitempty"`
}

// FileIssue is a file whose metadata matters to policy: a setuid or setgid
// binary, a world-writable file, a package manager cache.
type FileIssue struct {
	Kind  string   `json:"kind"` // setuid, setgid, world-writable, package-cache
	Path  string   `json:"path"`
	Mode  string   `json:"mode,omitempty"`
	Layer LayerRef `json:"layer"`
}

// Misconfiguration is an image configuration or file-system fact that
// weakens isolation or leaks: running as root, a setuid binary an
// application layer added, a package cache left in.
type Misconfiguration struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	Severity string    `json:"severity"`
	Message  string    `json:"message"`
	Fix      string    `json:"fix"`
	Location string    `json:"location,omitempty"`
	Layer    *LayerRef `json:"layer,omitempty"`
}

// BuildArgs reads the "|N K=V ..." prefix Docker records in a history
// entry's created_by for RUN steps that use build arguments: those values
// are in the image for anyone to read.
func BuildArgs(createdBy string) []string {
	s := strings.TrimSpace(createdBy)
	if !strings.HasPrefix(s, "|") {
		return nil
	}
	f := strings.Fields(s[1:])
	if len(f) == 0 {
		return nil
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 0 || n > len(f)-1 {
		return nil
	}
	var out []string
	for _, kv := range f[1 : 1+n] {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		}
	}
	return out
}
