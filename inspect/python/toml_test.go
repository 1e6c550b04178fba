package python_test

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/customs-sec/customs/inspect/python"
	"github.com/customs-sec/customs/internal/testimage"
)

// tomlEdgeCases covers the TOML the lock writers may emit beyond the
// fixtures: every string form and escape, dotted and quoted keys, nested
// arrays of tables, comments everywhere, CRLF line ends.
const tomlEdgeCases = "# comment\r\n" + `title = "a \"quoted\" \\ \t \u00e9 \U0001F600 string" # trailing
literal = 'C:\path\to'
multi = """
first line \
   continued
second "line" ""quoted""
"""
multi_lit = '''
raw \n text '' here'''
int = 42
neg = -17
float = 3.25
bool = true
other = false
date = 1979-05-27
"quoted key" = 1
'literal key' = 2
dotted.key.here = "x"
arr = [ 1, 2, 3, ]
nested = [ [ "a", "b" ], [ ], { x = 1, y = [ "z" ] } ]
multiline_arr = [
  "one", # comment
  "two",
]
inline = { a = 1, b.c = "d", e = { f = [] } }

[table]
key = "value"

[table.sub]
"k.with.dots" = 'v'

[[fruit]]
name = "apple"

[fruit.physical]
color = "red"

[[fruit.variety]]
name = "red delicious"

[[fruit.variety]]
name = "granny smith"

[[fruit]]
name = "banana"

[[fruit.variety]]
name = "plantain"
`

// tomllibScript prints a TOML document as JSON with every scalar that is
// not a string or a bool written as its TOML text, as parseTOML keeps it.
const tomllibScript = `
import sys, json, tomllib, datetime
def conv(v):
    if isinstance(v, dict): return {k: conv(x) for k, x in v.items()}
    if isinstance(v, list): return [conv(x) for x in v]
    if isinstance(v, bool) or isinstance(v, str): return v
    if isinstance(v, (datetime.date, datetime.datetime, datetime.time)): return v.isoformat()
    return str(v)
print(json.dumps(conv(tomllib.loads(sys.stdin.read()))))
`

// TestTOMLMatchesTomllib compares the TOML reader with Python's tomllib
// (3.11+) on the lock-file fixtures and the edge cases.
func TestTOMLMatchesTomllib(t *testing.T) {
	py := testimage.Require(t, "python3")
	if err := exec.Command(py, "-c", "import tomllib").Run(); err != nil {
		t.Skip("python3 has no tomllib (3.11+)")
	}
	for name, doc := range map[string]string{"poetry 1.1": poetryLegacy, "poetry 2": poetryGroups, "uv": uvLock, "pdm": pdmLock, "edge cases": tomlEdgeCases} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(py, "-c", tomllibScript)
			cmd.Stdin = strings.NewReader(doc)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("tomllib: %v", err)
			}
			var want any
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			got, err := python.ParseTOML([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			// Round-trip through JSON so both sides have the same Go types.
			b, _ := json.Marshal(got)
			var gotJSON any
			json.Unmarshal(b, &gotJSON)
			if !reflect.DeepEqual(gotJSON, want) {
				t.Errorf("got  %s\nwant %s", b, out)
			}
		})
	}
}

func TestTOMLRejectsMalformed(t *testing.T) {
	for _, bad := range []string{
		"a = ", "a = \"unterminated", "[table", "[[arr]\n", "a = [1, 2", "a = {b = 1", "= 1", "a = \"\\q\"",
		"a = 1 b = 2", "a = '''x", "a.b = 1\n[a.b.c]\n[[a.b]]\n", strings.Repeat("[", 1000),
		"a = " + strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		if _, err := python.ParseTOML([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
