# METADATA
# title: Attestation type
# description: >-
#   The image has a SLSA provenance, and every attestation is an in-toto
#   statement of a known type.
package policy.release.attestation_type

import rego.v1

import data.lib

# METADATA
# title: Known attestation type
# description: >-
#   Every verified attestation is a statement whose _type is listed in the
#   rule data known_attestation_types.
# custom:
#   short_name: known_attestation_type
#   failure_msg: Unknown attestation type '%s'
#   solution: Add the type to the rule data known_attestation_types.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.attestations
	att_type := object.get(att, ["statement", "_type"], "")
	not att_type in lib.rule_data("known_attestation_types")
	result := lib.result_helper(rego.metadata.chain(), [att_type])
}

# METADATA
# title: Provenance present
# description: >-
#   A verified SLSA provenance v1 attestation
#   (predicateType https://slsa.dev/provenance/v1) is attached to the image.
# custom:
#   short_name: provenance_present
#   failure_msg: No verified SLSA provenance v1 attestation for the image
#   solution: Release only images built by Kiln, which attests every build.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	count(lib.slsa_provenance_attestations) == 0
	result := lib.result_helper(rego.metadata.chain(), [])
}
