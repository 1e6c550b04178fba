package image

import (
	"fmt"
	"strings"
)

// Transport is where an image is kept.
type Transport string

// The transports, named as skopeo names them (registry is skopeo's docker://).
const (
	TransportOCI           Transport = "oci"
	TransportOCIArchive    Transport = "oci-archive"
	TransportDockerArchive Transport = "docker-archive"
	TransportDir           Transport = "dir"
	TransportRegistry      Transport = "registry"
	TransportSBOM          Transport = "sbom"
)

// Reference is a parsed image reference.
type Reference struct {
	Transport Transport
	// Path is the directory or file for local transports.
	Path string
	// Name selects an image inside a layout or archive (a ref name, tag or
	// digest), or is the full registry reference.
	Name string
}

func (r Reference) String() string {
	switch r.Transport {
	case TransportRegistry:
		return r.Name
	case TransportDir, TransportSBOM:
		return string(r.Transport) + ":" + r.Path
	}
	if r.Name == "" {
		return string(r.Transport) + ":" + r.Path
	}
	return string(r.Transport) + ":" + r.Path + ":" + r.Name
}

// ParseReference splits a reference into transport, path and name. As in
// skopeo, the path ends at the first colon after the transport, so paths
// cannot contain colons but names can ("oci:dir:sha256:...").
func ParseReference(ref string) (Reference, error) {
	if ref == "" {
		return Reference{}, fmt.Errorf("empty image reference")
	}
	if strings.ContainsRune(ref, 0) {
		return Reference{}, fmt.Errorf("image reference %q contains a NUL byte", ref)
	}
	transport, rest, found := strings.Cut(ref, ":")
	if found {
		switch Transport(transport) {
		case TransportOCI, TransportOCIArchive, TransportDockerArchive:
			path, name, _ := strings.Cut(rest, ":")
			if path == "" {
				return Reference{}, fmt.Errorf("image reference %q: missing path after %s:", ref, transport)
			}
			return Reference{Transport: Transport(transport), Path: path, Name: name}, nil
		case TransportDir, TransportSBOM:
			if rest == "" {
				return Reference{}, fmt.Errorf("image reference %q: missing path after %s:", ref, transport)
			}
			return Reference{Transport: Transport(transport), Path: rest}, nil
		case "docker":
			name := strings.TrimPrefix(rest, "//")
			if name == "" {
				return Reference{}, fmt.Errorf("image reference %q: missing registry reference", ref)
			}
			return Reference{Transport: TransportRegistry, Name: name}, nil
		}
	}
	return Reference{Transport: TransportRegistry, Name: ref}, nil
}
