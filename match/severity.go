package match

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"unicode/utf8"

	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
)

// ScoreVector computes the base score of a CVSS v3.0, v3.1 or v4.0 vector
// per its specification; ok is false for anything else.
func ScoreVector(vector string) (customs.CVSS, bool) {
	var c customs.CVSS
	switch {
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		v, err := gocvss31.ParseVector(vector)
		if err != nil {
			return c, false
		}
		c = customs.CVSS{Version: "3.1", Vector: vector, Score: v.BaseScore()}
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		v, err := gocvss30.ParseVector(vector)
		if err != nil {
			return c, false
		}
		c = customs.CVSS{Version: "3.0", Vector: vector, Score: v.BaseScore()}
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		v, err := gocvss40.ParseVector(vector)
		if err != nil {
			return c, false
		}
		c = customs.CVSS{Version: "4.0", Vector: vector, Score: v.Score()}
	default:
		return c, false
	}
	c.Severity = SeverityOfScore(c.Score)
	return c, true
}

// SeverityOfScore maps a CVSS score to its qualitative rating.
func SeverityOfScore(s float64) string {
	switch {
	case s >= 9.0:
		return customs.SeverityCritical
	case s >= 7.0:
		return customs.SeverityHigh
	case s >= 4.0:
		return customs.SeverityMedium
	case s > 0:
		return customs.SeverityLow
	}
	return customs.SeverityNegligible
}

// debianUrgency maps the security tracker's urgency to a severity.
func debianUrgency(u string) string {
	switch strings.TrimSuffix(strings.ToLower(u), "*") {
	case "unimportant", "end-of-life":
		return customs.SeverityNegligible
	case "low", "low**":
		return customs.SeverityLow
	case "medium":
		return customs.SeverityMedium
	case "high":
		return customs.SeverityHigh
	}
	return "" // "not yet assigned"
}

// severityOf rates a finding from its records: the distribution's own
// urgency for distribution packages (a Debian "unimportant" outranks an
// upstream 9.8, as Debian knows how it ships the code), else the highest
// CVSS score, else the severity a record states in words (GHSA's).
func severityOf(recs []*advisory.Record, pkgEco string, entries []advisory.Affected, scores *vectorScores) (string, []customs.CVSS) {
	var vectors []customs.CVSS
	addVec := func(sev []advisory.Severity) {
	next:
		for _, s := range sev {
			for _, v := range vectors {
				if v.Vector == s.Score {
					continue next
				}
			}
			if c, ok := scores.score(s.Score); ok {
				vectors = append(vectors, c)
			}
		}
	}
	for _, r := range recs {
		addVec(r.Severity)
	}
	for _, a := range entries {
		addVec(a.Severity)
	}
	switch advisory.BaseEcosystem(pkgEco) {
	case "Debian", "Ubuntu":
		for _, a := range entries {
			if s := debianUrgency(urgencyOf(a.EcosystemSpecific)); s != "" {
				return s, vectors
			}
		}
	}
	best := ""
	bestScore := -1.0
	for _, c := range vectors {
		// Prefer the newest CVSS version's own rating when versions differ in score.
		if c.Score > bestScore {
			best, bestScore = c.Severity, c.Score
		}
	}
	if best != "" {
		return best, vectors
	}
	worded := ""
	for _, r := range recs {
		var ds struct {
			Severity string `json:"severity"`
		}
		if mayHaveKey(r.DatabaseSpecific, "everity") && json.Unmarshal(r.DatabaseSpecific, &ds) == nil && ds.Severity != "" {
			if s := wordSeverity(ds.Severity); customs.SeverityRank(s) > customs.SeverityRank(worded) {
				worded = s
			}
		}
	}
	if worded != "" {
		return worded, vectors
	}
	return customs.SeverityUnknown, vectors
}

// urgencyOf reads ecosystem_specific.urgency. The Debian tracker's block
// is {"urgency": "..."} alone, read here without the JSON decoder (it was
// a tenth of building findings); any other shape goes to encoding/json.
func urgencyOf(es json.RawMessage) string {
	if len(es) == 0 {
		return ""
	}
	if rest, ok := bytes.CutPrefix(es, []byte(`{"urgency":"`)); ok {
		if v, ok := bytes.CutSuffix(rest, []byte(`"}`)); ok && bytes.IndexAny(v, `"\`) < 0 && utf8.Valid(v) {
			return string(v)
		}
	}
	var u struct {
		Urgency string `json:"urgency"`
	}
	if json.Unmarshal(es, &u) != nil {
		return ""
	}
	return u.Urgency
}

// mayHaveKey is false when raw cannot hold a key encoding/json would
// match to one ending in tail: tail appears nowhere in it, ignoring ASCII
// case. (tail must hold no k or s, which the decoder also matches to the
// Kelvin sign and long s.) Most records have no such key, and decoding
// their blocks to find out was a tenth of building findings.
func mayHaveKey(raw []byte, tail string) bool {
	if len(raw) == 0 {
		return false
	}
	for i := 0; i+len(tail) <= len(raw); i++ {
		if strings.EqualFold(string(raw[i:i+len(tail)]), tail) {
			return true
		}
	}
	return false
}

// vectorScores remembers the score of each CVSS vector one match has
// computed: a handful of vectors recur across thousands of findings.
type vectorScores struct{ m sync.Map }

func (vs *vectorScores) score(vector string) (customs.CVSS, bool) {
	type scored struct {
		c  customs.CVSS
		ok bool
	}
	if v, ok := vs.m.Load(vector); ok {
		s := v.(scored)
		return s.c, s.ok
	}
	c, ok := ScoreVector(vector)
	vs.m.Store(vector, scored{c, ok})
	return c, ok
}

func wordSeverity(s string) string {
	switch strings.ToLower(s) {
	case "critical":
		return customs.SeverityCritical
	case "high", "important":
		return customs.SeverityHigh
	case "moderate", "medium":
		return customs.SeverityMedium
	case "low":
		return customs.SeverityLow
	case "negligible", "unimportant":
		return customs.SeverityNegligible
	}
	return ""
}
