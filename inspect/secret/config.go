package secret

import (
	"fmt"
	"strings"

	"github.com/customs-sec/customs"
)

// ScanConfig finds secrets in an image's configuration: environment
// variables, labels and the build history, where ARG values used by a RUN
// step are recorded in the clear ("|2 NPM_TOKEN=... /bin/sh -c ...").
func (rs *Rules) ScanConfig(img customs.Image) []customs.Secret {
	var out []customs.Secret
	noLayer := customs.LayerRef{Index: -1}
	if c := img.Config; c != nil {
		for _, kv := range c.Env {
			k, v, _ := strings.Cut(kv, "=")
			out = append(out, rs.scanPair("config.Env["+k+"]", k, v, noLayer, "environment variable")...)
		}
		for k, v := range c.Labels {
			out = append(out, rs.scanPair("config.Labels["+k+"]", k, v, noLayer, "label")...)
		}
	}
	layer := 0
	for i, h := range img.History {
		ref := customs.LayerRef{Index: -1}
		if !h.EmptyLayer && layer < len(img.Layers) {
			l := img.Layers[layer]
			ref = customs.LayerRef{Index: layer, DiffID: l.DiffID, Digest: l.Digest}
		}
		loc := fmt.Sprintf("history[%d].created_by", i)
		found := rs.scanText(loc, h.CreatedBy, ref)
		for _, kv := range customs.BuildArgs(h.CreatedBy) {
			k, v, _ := strings.Cut(kv, "=")
			found = append(found, rs.scanPair(loc+" build arg "+k, k, v, ref, "build argument")...)
		}
		out = append(out, dedupe(found)...)
		if !h.EmptyLayer {
			layer++
		}
	}
	return out
}

// scanPair checks a KEY=VALUE pair: with the rules, and by the key's name.
func (rs *Rules) scanPair(loc, k, v string, layer customs.LayerRef, what string) []customs.Secret {
	found := rs.scanText(loc, k+"="+v, layer)
	if len(found) > 0 || rs.configName == nil || !rs.configName.MatchString(k) || matchAny(rs.configAllow, v) {
		return found
	}
	return []customs.Secret{{RuleID: "secret-" + strings.ReplaceAll(what, " ", "-"), Category: "Config",
		Title: fmt.Sprintf("Secret in %s %s", what, k), Severity: customs.SeverityHigh,
		Location: loc, Match: Mask(v), Layer: layer}}
}

// scanText runs the file rules that are not limited to paths over a string.
func (rs *Rules) scanText(loc, text string, layer customs.LayerRef) []customs.Secret {
	var out []customs.Secret
	for _, f := range rs.Scan("", []byte(text)) {
		out = append(out, customs.Secret{RuleID: f.Rule.ID, Category: f.Rule.Category, Title: f.Rule.Title,
			Severity: f.Rule.Severity, Location: loc, Match: f.Match, Layer: layer})
	}
	return out
}

func dedupe(ss []customs.Secret) []customs.Secret {
	seen := map[string]bool{}
	var out []customs.Secret
	for _, s := range ss {
		k := s.RuleID + "|" + s.Location + "|" + s.Match
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}

// Redact returns a copy of img whose configuration (environment, labels,
// build history) has every value a secret was found in masked, so reports,
// SBOMs and evidence documents never carry the secret itself.
func (rs *Rules) Redact(img customs.Image) (customs.Image, []customs.Secret) {
	found := rs.ScanConfig(img)
	if len(found) == 0 {
		return img, nil
	}
	byLoc := map[string]bool{}
	for _, s := range found {
		byLoc[s.Location] = true
	}
	out := img
	if img.Config != nil {
		c := *img.Config
		c.Env = append([]string(nil), img.Config.Env...)
		for i, kv := range c.Env {
			k, v, _ := strings.Cut(kv, "=")
			if byLoc["config.Env["+k+"]"] {
				c.Env[i] = k + "=" + Mask(v)
			}
		}
		if img.Config.Labels != nil {
			c.Labels = map[string]string{}
			for k, v := range img.Config.Labels {
				if byLoc["config.Labels["+k+"]"] {
					v = Mask(v)
				}
				c.Labels[k] = v
			}
		}
		out.Config = &c
	}
	out.History = append([]customs.History(nil), img.History...)
	for i := range out.History {
		prefix := fmt.Sprintf("history[%d].created_by", i)
		hit := false
		for loc := range byLoc {
			if strings.HasPrefix(loc, prefix) {
				hit = true
			}
		}
		if hit {
			out.History[i].CreatedBy = redactText(out.History[i].CreatedBy, rs)
		}
	}
	out.Layers = append([]customs.Layer(nil), img.Layers...)
	for i := range out.Layers {
		out.Layers[i].CreatedBy = redactText(out.Layers[i].CreatedBy, rs)
	}
	return out, found
}

// redactText masks every secret value in a build step: rule matches and
// the values of secret-named KEY=VALUE words.
func redactText(s string, rs *Rules) string {
	words := strings.Fields(s)
	changed := false
	for i, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if ok && v != "" && ((rs.configName != nil && rs.configName.MatchString(k) && !matchAny(rs.configAllow, v)) || len(rs.Scan("", []byte(w))) > 0) {
			words[i] = k + "=" + Mask(v)
			changed = true
		} else if len(rs.Scan("", []byte(w))) > 0 {
			words[i] = Mask(w)
			changed = true
		}
	}
	if !changed {
		return s
	}
	return strings.Join(words, " ")
}
