# A rule ported from Conforma's ec-policies: only the package line changed
# (package attestation_type -> policy.release.attestation_type would clash
# with Kiln's own, so it is "ported").
package policy.release.ported

import rego.v1

import data.lib

# METADATA
# title: Builder id found
# description: The provenance names a builder.
# custom:
#   short_name: builder_id_found
#   failure_msg: Builder ID not set in attestation
#   collections:
#   - redhat
deny contains result if {
	some att in input.attestations
	att.statement.predicateType == "https://slsa.dev/provenance/v1"
	not att.statement.predicate.runDetails.builder.id
	result := lib.result_helper(rego.metadata.chain(), [])
}

# METADATA
# title: Build log byproduct
# description: The provenance records the build log.
# custom:
#   short_name: build_log
#   failure_msg: No build log byproduct in the provenance
#   collections:
#   - redhat
warn contains result if {
	some att in lib.slsa_provenance_attestations
	count(object.get(att.statement.predicate.runDetails, "byproducts", [])) == 0
	result := lib.result_helper(rego.metadata.chain(), [])
}
