package provenance

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const fuzzDigest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func FuzzParseEnvelope(f *testing.F) {
	stmt, _ := statement("custom", []byte("x"), fuzzDigest[7:], "r/x", time.Unix(0, 0))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"` + base64.StdEncoding.EncodeToString(stmt) + `","signatures":[{"keyid":"","sig":"MEUCIQ=="}]}`))
	f.Add([]byte(`{"payloadType":"x","payload":"!!","signatures":[]}`))
	f.Add([]byte(`{"payloadType":"x","payload":"","signatures":[{"sig":"@@"}]} trailing`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"payload":"` + base64.RawURLEncoding.EncodeToString([]byte("{}")) + `","payloadType":"t","signatures":[{"sig":""}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		if e.PayloadType == "" || len(e.Signatures) == 0 || len(e.Signatures) > maxEnvelopeSignatures {
			t.Fatalf("accepted an envelope without type or with %d signatures", len(e.Signatures))
		}
		_ = envPAE(e)
	})
}

func FuzzParseSimpleSigning(f *testing.F) {
	h, _ := v1.NewHash(fuzzDigest)
	good, _ := simpleSigning("127.0.0.1:5000/t/a", h, map[string]string{"a": "b"})
	f.Add(good)
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":""},"image":{"docker-manifest-digest":"sha256:zz"},"type":"cosign container image signature"},"optional":null}`))
	f.Add([]byte(`{"critical":{"type":"atomic container signature"}}`))
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha512:00"},"type":"cosign container image signature"}}{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseSimpleSigning(b)
		if err != nil {
			return
		}
		if p.Digest.Algorithm != "sha256" || len(p.Digest.Hex) != 64 {
			t.Fatalf("accepted digest %v", p.Digest)
		}
	})
}

func FuzzParseStatement(f *testing.F) {
	for _, typ := range []string{"custom", "slsaprovenance", "cyclonedx"} {
		pred := []byte(`{"buildType":"b","builder":{"id":"i"},"bomFormat":"CycloneDX"}`)
		s, err := statement(typ, pred, fuzzDigest[7:], "r/x", time.Unix(0, 0))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[{"digest":{"sha256":"` + fuzzDigest[7:] + `"}}],"predicate":null}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","subject":[]}`))
	f.Add([]byte(`{"_type":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatement(b)
		if err != nil {
			return
		}
		if s.PredicateType == "" || len(s.Subject) == 0 || len(s.Subject) > maxSubjects {
			t.Fatal("accepted a statement without predicate type or subjects")
		}
		_ = s.about(fuzzDigest[7:])
		_ = s.subjectDigests()
		if s.Predicate != nil && !json.Valid(s.Predicate) {
			t.Fatal("predicate is not JSON")
		}
	})
}

func FuzzParseArtifactManifest(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"` + fuzzDigest + `"},"layers":[{"mediaType":"` + SimpleSigningMediaType + `","size":10,"digest":"` + fuzzDigest + `","annotations":{"dev.cosignproject.cosign/signature":"AA=="}}]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[]}`))
	f.Add([]byte(`{"schemaVersion":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseArtifactManifest(b, Limits{MaxLayers: 8})
		if err != nil {
			return
		}
		if len(m.Layers) > 8 {
			t.Fatalf("accepted %d layers over the limit", len(m.Layers))
		}
	})
}

func FuzzLegacyKeylessAnnotations(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), []byte(`{"SignedEntryTimestamp":"AA==","Payload":{"body":"e30=","integratedTime":1,"logIndex":1,"logID":"00"}}`))
	f.Add([]byte(""), []byte("{"))
	f.Fuzz(func(t *testing.T, cert, bundle []byte) {
		_, _ = parseLegacyKeyless(map[string]string{certificateAnnotation: string(cert), rekorBundleAnnotation: string(bundle)})
	})
}
