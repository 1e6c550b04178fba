//go:build pin

// This file pins dependencies that packages still being written will import
// (sigstore, OPA, pgx, Prometheus); `go mod tidy` keeps them because it
// considers every build tag. Remove it once they are imported.
package customs

import (
	_ "github.com/in-toto/in-toto-golang/in_toto"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/open-policy-agent/opa/v1/rego"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/secure-systems-lab/go-securesystemslib/dsse"
	_ "github.com/sigstore/sigstore-go/pkg/verify"
	_ "github.com/sigstore/sigstore/pkg/cryptoutils"
	_ "github.com/sigstore/sigstore/pkg/signature"
)
