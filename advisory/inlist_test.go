package advisory

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

// TestJSONList checks that SQLite reads back from jsonList exactly the
// strings it was given, whatever they hold, leaving out invalid UTF-8.
func TestJSONList(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "a.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := []string{"plain", `q"uote`, `back\slash`, "tab\tnew\nline\x01\x1f", "é€😀", "<>&", "\u2028", "", "bad\xff"}
	rows, err := db.sql.QueryContext(ctx, `SELECT value FROM json_each(?) ORDER BY key`, jsonList(in))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if want := in[:len(in)-1]; !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
