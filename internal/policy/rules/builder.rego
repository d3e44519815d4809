# METADATA
# title: Builder
# description: >-
#   The provenance says the image was built by a trusted Kiln builder, in
#   Kiln's sandbox.
package policy.release.builder

import rego.v1

import data.lib

# METADATA
# title: Trusted builder
# description: >-
#   The provenance's runDetails.builder.id is the installation's builder id
#   (input.kiln.builderId) or one of the rule data allowed_builder_ids.
# custom:
#   short_name: trusted_builder_id
#   failure_msg: Builder id '%s' is not trusted (trusted builders are %s)
#   solution: >-
#     Add the builder id to the rule data allowed_builder_ids if you trust
#     that Kiln installation.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.slsa_provenance_attestations
	id := object.get(att.statement.predicate, ["runDetails", "builder", "id"], "")
	not id in _trusted
	result := lib.result_helper(rego.metadata.chain(), [id, _trusted_text])
}

_trusted contains id if some id in lib.rule_data("allowed_builder_ids")

_trusted contains input.kiln.builderId if input.kiln.builderId != ""

_trusted_text := concat(", ", sort(_trusted)) if {
	count(_trusted) > 0
} else := "none: set input.kiln.builderId or the rule data allowed_builder_ids"

# METADATA
# title: Kiln build type
# description: >-
#   The provenance's buildDefinition.buildType is one of the rule data
#   allowed_build_types (by default https://kiln.dev/build/v1).
# custom:
#   short_name: kiln_build_type
#   failure_msg: Build type '%s' is not allowed
#   solution: Release only images built by Kiln.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.slsa_provenance_attestations
	build_type := object.get(att.statement.predicate, ["buildDefinition", "buildType"], "")
	not build_type in lib.rule_data("allowed_build_types")
	result := lib.result_helper(rego.metadata.chain(), [build_type])
}

# METADATA
# title: Steps isolated
# description: >-
#   No build step ran on the host (resolved dependency kiln:host): SLSA
#   Build L3 asks for builds isolated from one another and from the
#   builder.
# custom:
#   short_name: isolated_steps
#   failure_msg: Build steps ran on the host, outside Kiln's sandbox
#   solution: Give every step of the pipeline an image.
#   collections:
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.slsa_provenance_attestations
	some dep in object.get(att.statement.predicate, ["buildDefinition", "resolvedDependencies"], [])
	dep.uri == "kiln:host"
	result := lib.result_helper(rego.metadata.chain(), [])
}
