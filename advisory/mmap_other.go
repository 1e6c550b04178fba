//go:build !unix

package advisory

import (
	"errors"
	"fmt"
)

// canMap says whether this system maps snapshots: here it does not, and
// matching reads SQLite (reading a whole snapshot into memory for every
// scan would cost more than it saves).
const canMap = false

func mapFile(path string) ([]byte, func() error, error) {
	return nil, nil, fmt.Errorf("%s: %w", path, errors.ErrUnsupported)
}
