# METADATA
# title: Kiln policy library
# description: >-
#   Helpers for release rules. The names follow Conforma's data.lib so that
#   its rules port with few changes. Always loaded, for every policy source.
package lib

import rego.v1

# result_helper makes a result object from the active rule's METADATA:
# code "<package>.<short_name>", msg from custom.failure_msg formatted with
# params, effective_on and collections.
result_helper(chain, params) := object.union(_basic_result(chain, params), {"collections": _annotations(chain).custom.collections}) if {
	_annotations(chain).custom.collections
} else := _basic_result(chain, params)

# result_helper_with_term is result_helper plus a term, which include and
# exclude can name as "<package>.<short_name>:<term>".
result_helper_with_term(chain, params, term) := object.union(result_helper(chain, params), {"term": term})

_basic_result(chain, params) := {
	"code": _code(chain),
	"msg": sprintf(_annotations(chain).custom.failure_msg, params),
	"effective_on": _effective_on(chain),
}

# The first entry of the chain is the active rule: its path ends with the
# rule name (deny or warn), after the package name.
_code(chain) := sprintf("%s.%s", [path[count(path) - 2], _annotations(chain).custom.short_name]) if {
	path := chain[0].path
}

_annotations(chain) := chain[0].annotations

_effective_on(chain) := _annotations(chain).custom.effective_on if {
	_annotations(chain).custom.effective_on
} else := "2022-01-01T00:00:00Z"

# rule_data returns the rule data value for key (data.rule_data: the
# policy source's ruleData over Kiln's defaults), or an empty list.
rule_data(key) := value if {
	value := data.rule_data[key]
} else := []

# attestations are the verified attestations of the image.
attestations := [att | some att in input.image.attestations]

slsa_provenance_attestations := [att |
	some att in attestations
	att.statement.predicateType == "https://slsa.dev/provenance/v1"
]

spdx_attestations := [att |
	some att in attestations
	att.statement.predicateType == "https://spdx.dev/Document"
]

# image_digest_of returns the digest of a "repo@sha256:…" reference.
image_digest_of(ref) := parts[1] if {
	parts := split(ref, "@")
	count(parts) == 2
}
