package policy

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/customs-sec/customs"
)

// Evidence is the one document policies read as input: everything known
// about an image. Its JSON shape is the policy contract (docs/policy.md).
type Evidence struct {
	Now               time.Time                  `json:"now"`
	Image             ImageEvidence              `json:"image"`
	Config            *customs.Config            `json:"config"`
	Distro            *customs.Distro            `json:"distro,omitempty"`
	Packages          []PackageEvidence          `json:"packages"`
	Findings          []customs.Finding          `json:"findings"`
	Suppressed        []customs.Finding          `json:"suppressed"`
	Secrets           []customs.Secret           `json:"secrets"`
	FileIssues        []customs.FileIssue        `json:"file_issues"`
	Misconfigurations []customs.Misconfiguration `json:"misconfigurations"`
	// Signatures and Attestations come from provenance verification: each
	// at least {"verified": bool, ...}.
	Signatures   []json.RawMessage `json:"signatures"`
	Attestations []json.RawMessage `json:"attestations"`
	Summary      customs.Summary   `json:"summary"`
}

// ImageEvidence identifies the image and what it is built on.
type ImageEvidence struct {
	ID             string            `json:"id"`
	Ref            string            `json:"ref"`
	Source         string            `json:"source"`
	Registry       string            `json:"registry"`
	ManifestDigest string            `json:"manifest_digest,omitempty"`
	ConfigDigest   string            `json:"config_digest,omitempty"`
	RepoTags       []string          `json:"repo_tags,omitempty"`
	RepoDigests    []string          `json:"repo_digests,omitempty"`
	OS             string            `json:"os,omitempty"`
	Architecture   string            `json:"architecture,omitempty"`
	Created        string            `json:"created,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Layers         []customs.Layer   `json:"layers"`
	Base           BaseEvidence      `json:"base"`
}

// BaseEvidence is the base image, as far as the image tells: its diff IDs
// (the layers up to the distribution's release file) and the OCI base
// annotations when the builder recorded them as labels.
type BaseEvidence struct {
	Layers []string `json:"layers"`
	Name   string   `json:"name"`
	Digest string   `json:"digest"`
}

// PackageEvidence is a package without its installed-file list.
type PackageEvidence struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Type      string   `json:"type"`
	Ecosystem string   `json:"ecosystem,omitempty"`
	PURL      string   `json:"purl"`
	Source    string   `json:"source,omitempty"`
	Licenses  []string `json:"licenses,omitempty"`
	Layer     int      `json:"layer"`
	Locations []string `json:"locations"`
}

// NewEvidence assembles the evidence document.
func NewEvidence(inv *customs.Inventory, scan *customs.ScanResult, misconfigs []customs.Misconfiguration, baseLayers int, now time.Time) *Evidence {
	img := inv.Image
	ev := &Evidence{
		Now:               now.UTC(),
		Config:            img.Config,
		Distro:            inv.Distro,
		Packages:          []PackageEvidence{},
		Findings:          []customs.Finding{},
		Suppressed:        []customs.Finding{},
		Secrets:           inv.Secrets,
		FileIssues:        inv.FileIssues,
		Misconfigurations: misconfigs,
		Signatures:        []json.RawMessage{},
		Attestations:      []json.RawMessage{},
	}
	if ev.Config == nil {
		ev.Config = &customs.Config{}
	}
	ev.Image = ImageEvidence{
		ID: img.ID(), Ref: img.Ref, Source: img.Source, ManifestDigest: img.ManifestDigest, ConfigDigest: img.ConfigDigest,
		RepoTags: img.RepoTags, RepoDigests: img.RepoDigests, OS: img.OS, Architecture: img.Architecture,
		Labels: ev.Config.Labels, Layers: img.Layers, Base: BaseEvidence{Layers: []string{}},
	}
	if img.Layers == nil {
		ev.Image.Layers = []customs.Layer{}
	}
	if img.Created != nil {
		ev.Image.Created = img.Created.UTC().Format(time.RFC3339)
	}
	if img.Source == "registry" {
		if r, err := name.ParseReference(img.Ref, name.WeakValidation); err == nil {
			ev.Image.Registry = r.Context().RegistryStr()
		}
	}
	for i := 0; i < baseLayers && i < len(img.Layers); i++ {
		ev.Image.Base.Layers = append(ev.Image.Base.Layers, img.Layers[i].DiffID)
	}
	ev.Image.Base.Name = ev.Config.Labels["org.opencontainers.image.base.name"]
	ev.Image.Base.Digest = ev.Config.Labels["org.opencontainers.image.base.digest"]
	for _, p := range inv.Packages {
		ev.Packages = append(ev.Packages, PackageEvidence{Name: p.Name, Version: p.Version, Type: p.Type, Ecosystem: p.Ecosystem,
			PURL: p.PURL, Source: p.Source, Licenses: p.Licenses, Layer: p.Layer.Index, Locations: p.Locations})
	}
	if scan != nil {
		ev.Findings, ev.Suppressed, ev.Summary = scan.Findings, scan.Suppressed, scan.Summary
		if ev.Suppressed == nil {
			ev.Suppressed = []customs.Finding{}
		}
	}
	if ev.Secrets == nil {
		ev.Secrets = []customs.Secret{}
	}
	if ev.FileIssues == nil {
		ev.FileIssues = []customs.FileIssue{}
	}
	if ev.Misconfigurations == nil {
		ev.Misconfigurations = []customs.Misconfiguration{}
	}
	return ev
}

// AddProvenance adds verified (or not) signatures and attestations, each
// any JSON object with at least a "verified" field.
func (ev *Evidence) AddProvenance(signatures, attestations []any) error {
	for _, s := range signatures {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		ev.Signatures = append(ev.Signatures, b)
	}
	for _, a := range attestations {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		ev.Attestations = append(ev.Attestations, b)
	}
	return nil
}

// Value is the evidence as an OPA value.
func (ev *Evidence) Value() (ast.Value, error) {
	return jsonValue(ev)
}

// RegistryOf gives the registry host of a registry reference.
func RegistryOf(ref string) string {
	r, err := name.ParseReference(strings.TrimPrefix(ref, "docker://"), name.WeakValidation)
	if err != nil {
		return ""
	}
	return r.Context().RegistryStr()
}
