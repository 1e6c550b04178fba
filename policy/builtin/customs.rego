# The built-in policy set. Every rule can be switched off and tuned in a data
# file (YAML or JSON) under customs.settings; see docs/policy.md.
#
# Rules emit objects: id (the rule), msg (why), severity, fix (what to do) and
# target (what it is about), which exceptions match against.
package customs.policy.builtin

import rego.v1

defaults := {
	"vulnerabilities": {"enabled": true, "severities": ["critical", "high"], "fix_age_days": 0},
	"unfixed_vulnerabilities": {"enabled": true, "severities": ["critical"]},
	"signature": {"enabled": true},
	"secrets": {"enabled": true, "severities": ["critical", "high", "medium"]},
	"root_user": {"enabled": true},
	"misconfigurations": {"enabled": true, "deny_severities": ["critical", "high"], "warn_severities": ["medium", "low"]},
	"registries": {"enabled": false, "allowed": []},
	"base_images": {"enabled": false, "allowed": []},
	"image_age": {"enabled": false, "max_days": 365},
	"required_labels": {"enabled": false, "labels": ["owner", "team"]},
}

default user_settings := {}

user_settings := data.customs.settings

settings := object.union(defaults, user_settings)

now_ns := time.parse_rfc3339_ns(input.now)

day_ns := ((24 * 60) * 60) * 1000000000

layer_name(l) := sprintf("layer %d (%s)", [l.index + 1, l.diff_id]) if {
	l.index >= 0
	object.get(l, "diff_id", "") != ""
} else := sprintf("layer %d", [l.index + 1]) if {
	l.index >= 0
} else := "the image configuration"

# A fix counts once its advisory has been public for fix_age_days.
fix_old_enough(f, days) if days <= 0

fix_old_enough(f, days) if {
	days > 0
	not f.published
}

fix_old_enough(f, days) if {
	days > 0
	(now_ns - time.parse_rfc3339_ns(f.published)) >= days * day_ns
}

deny contains r if {
	s := settings.vulnerabilities
	s.enabled
	some f in input.findings
	f.severity in s.severities
	object.get(f, "fixed", "") != ""
	fix_old_enough(f, s.fix_age_days)
	r := {
		"id": "vulnerability",
		"msg": sprintf("%s vulnerability %s in %s %s, fixed in %s (%s)", [f.severity, f.id, f.package.name, f.installed, f.fixed, layer_name(f.layer)]),
		"severity": f.severity,
		"fix": sprintf("upgrade %s to %s or later", [f.package.name, f.fixed]),
		"target": {"vulnerability": f.id, "aliases": object.get(f, "aliases", []), "package": f.package.name, "purl": f.package.purl, "layer": f.layer},
	}
}

warn contains r if {
	s := settings.unfixed_vulnerabilities
	s.enabled
	some f in input.findings
	f.severity in s.severities
	object.get(f, "fixed", "") == ""
	r := {
		"id": "unfixed-vulnerability",
		"msg": sprintf("%s vulnerability %s in %s %s has no fix yet (%s; %s)", [f.severity, f.id, f.package.name, f.installed, f.status, layer_name(f.layer)]),
		"severity": f.severity,
		"fix": "watch for a fixed version, or remove the package",
		"target": {"vulnerability": f.id, "aliases": object.get(f, "aliases", []), "package": f.package.name, "purl": f.package.purl, "layer": f.layer},
	}
}

verified_signatures := [s | some s in input.signatures; s.verified]

deny contains r if {
	settings.signature.enabled
	count(verified_signatures) == 0
	r := {
		"id": "signature",
		"msg": signature_msg,
		"severity": "high",
		"fix": "sign the image by digest with a trusted key (customs sign --key KEY IMAGE) and pass the public key to check (--key)",
		"target": {"image": input.image.id},
	}
}

signature_msg := "the image has no signature from a trusted key" if {
	count(input.signatures) > 0
} else := "the image is not signed"

deny contains r if {
	s := settings.secrets
	s.enabled
	some x in input.secrets
	x.severity in s.severities
	deleted := deleted_note(x)
	r := {
		"id": "secret",
		"msg": sprintf("%s: %s at %s (%s)%s, value %s", [x.severity, x.title, x.location, layer_name(x.layer), deleted, x.match]),
		"severity": x.severity,
		"fix": secret_fix(x),
		"target": {"secret": x.rule_id, "location": x.location, "layer": x.layer},
	}
}

deleted_note(x) := sprintf(", deleted by %s but still shipped in the image", [layer_name(x.deleted_in)]) if x.deleted_in

deleted_note(x) := "" if not x.deleted_in

secret_fix(x) := "rotate the credential, and keep it out of every layer (deleting it in a later layer does not remove it): use build secrets" if x.layer.index >= 0

secret_fix(x) := "rotate the credential and pass it at run time (a secret store, a mounted file), not in the image configuration" if x.layer.index < 0

deny contains r if {
	settings.root_user.enabled
	some m in input.misconfigurations
	m.id == "root-user"
	r := {"id": "root-user", "msg": sprintf("runs as root: %s", [m.message]), "severity": m.severity, "fix": m.fix, "target": {"check": m.id}}
}

deny contains r if {
	s := settings.misconfigurations
	s.enabled
	some m in input.misconfigurations
	m.id != "root-user"
	m.severity in s.deny_severities
	r := {"id": m.id, "msg": sprintf("%s: %s", [m.title, m.message]), "severity": m.severity, "fix": m.fix, "target": {"check": m.id, "location": object.get(m, "location", "")}}
}

warn contains r if {
	s := settings.misconfigurations
	s.enabled
	some m in input.misconfigurations
	m.id != "root-user"
	m.severity in s.warn_severities
	r := {"id": m.id, "msg": sprintf("%s: %s", [m.title, m.message]), "severity": m.severity, "fix": m.fix, "target": {"check": m.id, "location": object.get(m, "location", "")}}
}

deny contains r if {
	s := settings.registries
	s.enabled
	input.image.registry != ""
	not input.image.registry in s.allowed
	r := {
		"id": "registry",
		"msg": sprintf("registry %s is not among the allowed registries %v", [input.image.registry, s.allowed]),
		"severity": "high",
		"fix": "promote the image through an allowed registry",
		"target": {"registry": input.image.registry},
	}
}

base_ids contains id if some id in input.image.base.layers

base_ids contains input.image.base.name if input.image.base.name != ""

base_ids contains input.image.base.digest if input.image.base.digest != ""

deny contains r if {
	s := settings.base_images
	s.enabled
	count({id | some id in base_ids; id in s.allowed}) == 0
	r := {
		"id": "base-image",
		"msg": sprintf("the base image (%s) is not among the allowed base images", [base_description]),
		"severity": "high",
		"fix": "rebuild FROM an allowed base image",
		"target": {"base": base_description},
	}
}

base_description := input.image.base.name if {
	input.image.base.name != ""
} else := sprintf("top base layer %s", [input.image.base.layers[count(input.image.base.layers) - 1]]) if {
	count(input.image.base.layers) > 0
} else := "unknown"

deny contains r if {
	s := settings.image_age
	s.enabled
	input.image.created
	age := (now_ns - time.parse_rfc3339_ns(input.image.created)) / day_ns
	age > s.max_days
	r := {
		"id": "image-age",
		"msg": sprintf("the image was built %d days ago, more than the %d allowed", [round(age), s.max_days]),
		"severity": "medium",
		"fix": "rebuild the image (a rebuild picks up the base image's and packages' fixes)",
		"target": {"created": input.image.created},
	}
}

deny contains r if {
	s := settings.required_labels
	s.enabled
	some l in s.labels
	not input.config.labels[l]
	r := {"id": "required-label", "msg": sprintf("the image has no %q label", [l]), "severity": "low", "fix": sprintf("add LABEL %s=...", [l]), "target": {"label": l}}
}
