package provenance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// maxEnvelopeSignatures bounds the signatures tried on one envelope: each
// costs an ECDSA verification per trusted key.
const maxEnvelopeSignatures = 16

// Envelope is a parsed DSSE envelope.
type Envelope struct {
	PayloadType string
	// Payload is the decoded payload (the in-toto statement).
	Payload    []byte
	Signatures [][]byte
	raw        *dsse.Envelope
}

// signEnvelope wraps payload in a DSSE envelope signed by key, as cosign's
// dsse.WrapSigner does: the signature is over PAE(payloadType, payload) and
// the keyid is empty.
func signEnvelope(key *PrivateKey, payloadType string, payload []byte) ([]byte, error) {
	sig, err := key.sign(dsse.PAE(payloadType, payload))
	if err != nil {
		return nil, fmt.Errorf("signing envelope: %w", err)
	}
	return json.Marshal(dsse.Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{{KeyID: "", Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
}

// ParseEnvelope reads a DSSE envelope (untrusted input).
func ParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) > DefaultMaxPayloadBytes {
		return nil, fmt.Errorf("envelope is %d bytes, over the %d-byte limit", len(b), DefaultMaxPayloadBytes)
	}
	var raw dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("parsing DSSE envelope: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parsing DSSE envelope: data after the JSON object")
	}
	if raw.PayloadType == "" {
		return nil, errors.New("DSSE envelope has no payloadType")
	}
	payload, err := raw.DecodeB64Payload()
	if err != nil {
		return nil, fmt.Errorf("DSSE envelope payload: %w", err)
	}
	if len(raw.Signatures) == 0 {
		return nil, errors.New("DSSE envelope has no signatures")
	}
	if len(raw.Signatures) > maxEnvelopeSignatures {
		return nil, fmt.Errorf("DSSE envelope has %d signatures, over the limit of %d", len(raw.Signatures), maxEnvelopeSignatures)
	}
	e := &Envelope{PayloadType: raw.PayloadType, Payload: payload, raw: &raw}
	for i, s := range raw.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("DSSE envelope signature %d: not base64: %w", i, err)
		}
		e.Signatures = append(e.Signatures, sig)
	}
	return e, nil
}

// verifyWith checks the envelope's signatures against a key; one valid
// signature suffices, as in cosign.
func (e *Envelope) verifyWith(k *PublicKey) error {
	pae := dsse.PAE(e.PayloadType, e.Payload)
	for _, sig := range e.Signatures {
		if k.verify(sig, pae) == nil {
			return nil
		}
	}
	return errors.New("no envelope signature verifies")
}
