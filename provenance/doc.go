// Package provenance signs and verifies container images and their
// attestations the way cosign does, so that customs reads what cosign writes
// and cosign reads what customs writes, and teams adopt customs without
// re-signing anything.
//
// What it stores, and where:
//
//   - Signatures: the tag sha256-<hex>.sig of the image's repository holds an
//     OCI image whose layers are simple-signing payloads
//     (application/vnd.dev.cosign.simplesigning.v1+json), each with its base64
//     signature in the dev.cosignproject.cosign/signature annotation. New
//     signatures are appended to the layers already there.
//   - Attestations: the tag sha256-<hex>.att holds DSSE envelopes
//     (application/vnd.dsse.envelope.v1+json) of in-toto statements, each layer
//     annotated with its predicateType.
//   - In an OCI layout (oci:DIR) the same manifests sit beside the image in
//     the same layout, named sha256-<hex>.sig / .att by the
//     org.opencontainers.image.ref.name annotation.
//
// What it reads besides: the OCI 1.1 referrers form (Sigstore bundles that
// `cosign sign/attest --new-bundle-format` attaches, and cosign's
// experimental OCI 1.1 signatures), layouts written by `cosign save`, and
// keyless signatures (a Fulcio certificate plus a Rekor entry), which are
// verified offline against a trusted root with sigstore-go.
//
// Keys are ECDSA (P-256 by default; P-384 and P-521 read), private keys in
// cosign's encrypted PEM format (scrypt + nacl/secretbox), so a key made by
// either tool works in both.
//
// Everything read from a registry or layout is untrusted and bounded (see
// Limits): a hostile signature manifest ends in a clear error on that
// signature, never in unbounded memory.
//
// The entry points are Sign, Attest and AttestScan for writing, and
// Verifier.Verify for reading: it returns an Evidence value, JSON-serializable,
// that the policy engine and the admission webhook consume, and caches it by
// digest so repeated checks of one image do not go back to the registry.
package provenance
