# Unit tests of the built-in policy set: `customs policy test --builtin`
# runs them (as `opa test` would).
package customs.policy.builtin_test

import rego.v1

import data.customs.policy.builtin

base_input := {
	"now": "2026-06-01T00:00:00Z",
	"image": {"id": "sha256:abc", "ref": "registry.example.com/app:1", "registry": "registry.example.com", "created": "2026-05-01T00:00:00Z", "layers": [], "base": {"layers": ["sha256:base1"], "name": "", "digest": ""}},
	"config": {"user": "app", "labels": {"owner": "a", "team": "b"}},
	"packages": [],
	"findings": [],
	"secrets": [],
	"misconfigurations": [],
	"signatures": [{"verified": true, "key": "k1"}],
	"attestations": [],
}

finding(sev, fixed, published) := {
	"id": "CVE-2026-0001", "aliases": [], "severity": sev, "fixed": fixed, "status": "fixed", "published": published,
	"installed": "1.0", "package": {"name": "openssl", "purl": "pkg:deb/debian/openssl@1.0"}, "layer": {"index": 0, "diff_id": "sha256:l0"},
}

ids(set) := {r.id | some r in set}

test_clean_image_allowed if {
	count(builtin.deny) == 0 with input as base_input
}

test_fixable_high_vulnerability_denied if {
	inp := object.union(base_input, {"findings": [finding("high", "1.1", "2026-01-01T00:00:00Z")]})
	some r in builtin.deny with input as inp
	r.id == "vulnerability"
	contains(r.msg, "CVE-2026-0001")
	contains(r.fix, "1.1")
}

test_medium_vulnerability_not_denied_by_default if {
	inp := object.union(base_input, {"findings": [finding("medium", "1.1", "2026-01-01T00:00:00Z")]})
	not "vulnerability" in ids(builtin.deny) with input as inp
}

test_fix_younger_than_grace_period_not_denied if {
	inp := object.union(base_input, {"findings": [finding("critical", "1.1", "2026-05-25T00:00:00Z")]})
	not "vulnerability" in ids(builtin.deny) with input as inp
		with data.customs.settings as {"vulnerabilities": {"enabled": true, "severities": ["critical"], "fix_age_days": 30}}
	"vulnerability" in ids(builtin.deny) with input as inp
		with data.customs.settings as {"vulnerabilities": {"enabled": true, "severities": ["critical"], "fix_age_days": 3}}
}

test_unfixed_critical_only_warns if {
	inp := object.union(base_input, {"findings": [finding("critical", "", "2026-01-01T00:00:00Z")]})
	not "vulnerability" in ids(builtin.deny) with input as inp
	"unfixed-vulnerability" in ids(builtin.warn) with input as inp
}

test_unsigned_image_denied if {
	inp := object.union(base_input, {"signatures": []})
	some r in builtin.deny with input as inp
	r.id == "signature"
	r.msg == "the image is not signed"
}

test_untrusted_signature_denied_with_its_own_message if {
	inp := object.union(base_input, {"signatures": [{"verified": false, "error": "no trusted key"}]})
	some r in builtin.deny with input as inp
	r.id == "signature"
	contains(r.msg, "trusted key")
}

test_signature_rule_switchable if {
	inp := object.union(base_input, {"signatures": []})
	not "signature" in ids(builtin.deny) with input as inp with data.customs.settings as {"signature": {"enabled": false}}
}

test_deleted_secret_still_denied if {
	s := {
		"rule_id": "aws-access-key-id", "title": "AWS access key ID", "severity": "critical", "location": "/root/.aws/credentials",
		"match": "AKI*************LE", "layer": {"index": 1, "diff_id": "sha256:l1"}, "deleted_in": {"index": 3, "diff_id": "sha256:l3"},
	}
	inp := object.union(base_input, {"secrets": [s]})
	some r in builtin.deny with input as inp
	r.id == "secret"
	contains(r.msg, "layer 2")
	contains(r.msg, "deleted by layer 4")
	contains(r.msg, "still shipped")
}

test_root_user_denied if {
	inp := object.union(base_input, {"misconfigurations": [{"id": "root-user", "title": "Runs as root", "severity": "high", "message": "no USER", "fix": "add USER"}]})
	"root-user" in ids(builtin.deny) with input as inp
}

test_low_misconfiguration_warns if {
	inp := object.union(base_input, {"misconfigurations": [{"id": "no-healthcheck", "title": "No HEALTHCHECK", "severity": "low", "message": "m", "fix": "f"}]})
	not "no-healthcheck" in ids(builtin.deny) with input as inp
	"no-healthcheck" in ids(builtin.warn) with input as inp
}

test_registry_allow_list if {
	"registry" in ids(builtin.deny) with input as base_input
		with data.customs.settings as {"registries": {"enabled": true, "allowed": ["prod.example.com"]}}
	not "registry" in ids(builtin.deny) with input as base_input
		with data.customs.settings as {"registries": {"enabled": true, "allowed": ["registry.example.com"]}}
}

test_base_image_allow_list if {
	"base-image" in ids(builtin.deny) with input as base_input
		with data.customs.settings as {"base_images": {"enabled": true, "allowed": ["sha256:other"]}}
	not "base-image" in ids(builtin.deny) with input as base_input
		with data.customs.settings as {"base_images": {"enabled": true, "allowed": ["sha256:base1"]}}
}

test_image_age if {
	"image-age" in ids(builtin.deny) with input as base_input
		with data.customs.settings as {"image_age": {"enabled": true, "max_days": 10}}
	not "image-age" in ids(builtin.deny) with input as base_input
		with data.customs.settings as {"image_age": {"enabled": true, "max_days": 60}}
}

test_required_labels if {
	inp := json.remove(base_input, ["config/labels/team"])
	some r in builtin.deny with input as inp with data.customs.settings as {"required_labels": {"enabled": true, "labels": ["owner", "team"]}}
	r.id == "required-label"
	r.target.label == "team"
}
