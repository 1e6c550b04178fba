package provenance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-sec/customs/image"
)

// store is where an image and its signatures are kept: a registry
// repository or an OCI layout directory.
type store interface {
	// String names the image as the user gave it, for messages.
	String() string
	// id names the store (repository or layout path), for cache keys.
	id() string
	// resolve finds the image's descriptor; with a platform, the matching
	// child of an index.
	resolve(ctx context.Context, platform string) (v1.Descriptor, error)
	// dockerReference is the name written into simple-signing payloads and
	// statement subjects.
	dockerReference() string
	// digestRef names the image at a digest, for reports.
	digestRef(d v1.Hash) string
	// tagged reads the manifest stored under tag (sha256-<hex>.sig);
	// found is false when there is none.
	tagged(ctx context.Context, tag string) (raw []byte, desc v1.Descriptor, found bool, err error)
	// manifest reads a manifest by digest.
	manifest(ctx context.Context, d v1.Descriptor) ([]byte, error)
	// blob reads a blob, at most limit bytes, checking its digest.
	blob(ctx context.Context, d v1.Descriptor, limit int64) ([]byte, error)
	// referrers lists the manifests whose subject is d.
	referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error)
	// base gives the image under tag, to append a layer to (nil when none).
	base(ctx context.Context, tag string, desc v1.Descriptor) (v1.Image, error)
	// write stores img under tag, replacing what was there.
	write(ctx context.Context, tag string, img v1.Image) error
}

// openStore opens where ref is kept: an oci: layout or a registry.
func openStore(ctx context.Context, ref string, insecure bool, lim Limits) (store, error) {
	r, err := image.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	switch r.Transport {
	case image.TransportOCI:
		return openLayoutStore(r, lim)
	case image.TransportRegistry:
		return openRegistryStore(ctx, r.Name, insecure, lim)
	}
	return nil, fmt.Errorf("%s: signatures live in a registry or an OCI layout (oci:DIR[:REF]), not in a %s image", ref, r.Transport)
}

// contentError marks a problem with what a registry or layout holds (a
// malformed or oversized manifest, a missing blob), as opposed to a failure
// to reach it: the first is evidence about that signature, the second stops
// the verification.
type contentError struct{ err error }

func (e *contentError) Error() string { return e.err.Error() }
func (e *contentError) Unwrap() error { return e.err }

func content(err error) error {
	if err == nil {
		return nil
	}
	return &contentError{err}
}

// tooLargeError is returned when a registry response exceeds its limit.
type tooLargeError struct {
	what  string
	limit int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is over the %d MiB limit", e.what, e.limit>>20)
}

// isFatal says whether err stops a verification (the registry could not be
// asked) rather than being a finding about one signature.
func isFatal(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ce *contentError
	var tl *tooLargeError
	if errors.As(err, &ce) || errors.As(err, &tl) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode != http.StatusNotFound
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

func isNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// remoteOptions are image.RemoteOptions with a transport that bounds
// manifest and referrers responses: go-containerregistry reads manifests
// whole (up to 100 MiB), and a signature tag is attacker-controlled input.
func remoteOptions(ctx context.Context, insecure bool, lim Limits) []remote.Option {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for --insecure
	}
	return append(image.RemoteOptions(ctx, insecure), remote.WithTransport(&limitTransport{base: base, max: lim.MaxManifestBytes}))
}

type limitTransport struct {
	base http.RoundTripper
	max  int64
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	p := req.URL.Path
	if req.Method == http.MethodHead {
		return resp, nil
	}
	if !strings.Contains(p, "/manifests/") && !strings.Contains(p, "/referrers/") {
		return resp, nil
	}
	what := "manifest " + req.URL.Path
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, &tooLargeError{what: what, limit: t.max}
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, what: what, limit: t.max}
	return resp, nil
}

// limitedBody fails, rather than truncates, past its limit: a truncated
// manifest would otherwise surface as a confusing JSON error.
type limitedBody struct {
	rc    io.ReadCloser
	left  int64
	what  string
	limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, &tooLargeError{what: b.what, limit: b.limit}
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// readLimited reads r whole, failing past limit.
func readLimited(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, content(fmt.Errorf("%s is over the %d-byte limit", what, limit))
	}
	return b, nil
}

// selectPlatform picks the child of an index for platform ("os/arch[/variant]").
func selectPlatform(im *v1.IndexManifest, platform string) (v1.Descriptor, error) {
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("--platform %q: %w", platform, err)
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.Satisfies(*want) {
			return d, nil
		}
		have = append(have, d.Platform.String())
	}
	return v1.Descriptor{}, fmt.Errorf("no image for platform %s in the index (it has: %s)", platform, strings.Join(have, ", "))
}
