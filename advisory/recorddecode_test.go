package advisory

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// leanJSON is decodeRecordLean's answer as encoding/json gives it.
func leanJSON(b []byte) (*Record, error) {
	r := &Record{}
	v := struct {
		*Record
		Affected skipJSON `json:"affected"`
	}{Record: r}
	return r, json.Unmarshal(b, &v)
}

// sameRecord checks decodeRecordLean against encoding/json on valid JSON.
func sameRecord(t *testing.T, b []byte) {
	t.Helper()
	if !json.Valid(b) {
		return // stored records are valid JSON; nothing else reaches it
	}
	want, wantErr := leanJSON(b)
	got, err := decodeRecordLean(b)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("%q: error %v, encoding/json's %v", b, err, wantErr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
}

var recordSeeds = []string{
	`{"id":"A","modified":"2024-01-02T03:04:05Z","published":"2023-01-01T00:00:00.5+02:00","aliases":["CVE-1"],"summary":"s","details":"line\n\"q\" \\ \/ \u00e9 \u20ac caf` + "\xc3\xa9" + `","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N"}],"affected":[{"package":{"name":"x"},"versions":["1",{"a":[1,2,"]"]}]}],"references":[{"type":"WEB","url":"https://x"}],"database_specific":{"severity":"HIGH","n":[1.5e3,true,null]}}`,
	`{"id":"B","modified":null,"withdrawn":null,"aliases":null,"upstream":[],"severity":[],"references":null,"database_specific":null,"credits":[{"name":"x"}],"x":-1}`,
	` { "id" : "C" , "related" : [ "D" , "E" ] , "affected" : [ ] , "summary" : null } `,
	`{"ID":"D"}`, `{"Id":"D","id":"E"}`, `{"id":5}`, `{"aliases":[null]}`, `{"modified":"yesterday"}`, `{"modified":5}`,
	`{"details":"bad ` + "\xff" + `"}`, `{"details":"\ud83d\ude00 pair"}`, `{"details":"\ud800 lone"}`,
	`{"severity":[{"TYPE":"x"}]}`, `{"references":[{"type":"WEB","url":"u","extra":{}}]}`, `{"id":"A"} x`, `[]`, `null`, `{}`,
	`{"id":"K","\u212aey":1}`,
}

// TestDecodeRecordLean checks the fast record decoder against encoding/json
// on odd records and on every record of the real sample.
func TestDecodeRecordLean(t *testing.T) {
	for _, s := range recordSeeds {
		sameRecord(t, []byte(s))
	}
	t.Logf("%d sample files", eachSampleRecord(func(b []byte) { sameRecord(t, b) }))
}

// sampleAdvisories is the real sample's advisories folder (the corpus).
func sampleAdvisories() string {
	dir := os.Getenv("CUSTOMS_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	return filepath.Join(dir, "advisories")
}

// eachSampleRecord calls fn with every JSON file of the real sample and
// returns how many there were (none without the corpus).
func eachSampleRecord(fn func([]byte)) int {
	n := 0
	filepath.WalkDir(sampleAdvisories(), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			b, _ := os.ReadFile(p)
			fn(b)
			n++
		}
		return nil
	})
	return n
}

func FuzzDecodeRecordLean(f *testing.F) {
	for _, s := range recordSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameRecord(t, b) })
}
