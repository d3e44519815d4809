# METADATA
# title: Step images
# description: >-
#   The images the build steps ran in were pinned by digest.
package policy.release.step_image

import rego.v1

import data.lib

# METADATA
# title: Step images pinned
# description: >-
#   Every oci:// resolved dependency of the provenance has a sha256 digest.
#   Kiln records an image that a pipeline names only by tag without one.
# custom:
#   short_name: pinned
#   failure_msg: Step image %s is not pinned by digest
#   solution: Write step images as <image>@sha256:<digest> in the pipeline.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
warn contains result if {
	some att in lib.slsa_provenance_attestations
	some dep in object.get(att.statement.predicate, ["buildDefinition", "resolvedDependencies"], [])
	startswith(dep.uri, "oci://")
	not dep.digest.sha256
	image := trim_prefix(dep.uri, "oci://")
	result := lib.result_helper_with_term(rego.metadata.chain(), [image], image)
}
