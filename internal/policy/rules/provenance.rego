# METADATA
# title: Provenance
# description: >-
#   The provenance identifies the build run, as SLSA Build L3 expects.
package policy.release.provenance

import rego.v1

import data.lib

# METADATA
# title: Invocation id present
# description: >-
#   The provenance's runDetails.metadata.invocationId (the Build's name) is
#   set, so the image can be traced to one build and its logs.
# custom:
#   short_name: invocation_id
#   failure_msg: The provenance has no runDetails.metadata.invocationId
#   solution: Release only images built by Kiln, which names the build.
#   collections:
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.slsa_provenance_attestations
	object.get(att.statement.predicate, ["runDetails", "metadata", "invocationId"], "") == ""
	result := lib.result_helper(rego.metadata.chain(), [])
}

# METADATA
# title: Build timestamps
# description: >-
#   The provenance's runDetails.metadata has startedOn and finishedOn
#   (RFC 3339), and the build did not finish before it started.
# custom:
#   short_name: build_timestamps
#   failure_msg: 'The provenance build times are missing or invalid: startedOn %q, finishedOn %q'
#   solution: Release only images built by Kiln, which records when builds run.
#   collections:
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.slsa_provenance_attestations
	meta := object.get(att.statement.predicate, ["runDetails", "metadata"], {})
	not _valid_times(meta)
	result := lib.result_helper(rego.metadata.chain(), [object.get(meta, "startedOn", ""), object.get(meta, "finishedOn", "")])
}

_valid_times(meta) if {
	time.parse_rfc3339_ns(meta.startedOn) <= time.parse_rfc3339_ns(meta.finishedOn)
}
