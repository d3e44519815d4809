# METADATA
# title: SBOM
# description: >-
#   The image has an attested SPDX SBOM that lists what it contains.
package policy.release.sbom

import rego.v1

import data.lib

# METADATA
# title: SBOM present
# description: >-
#   A verified SPDX attestation (predicateType https://spdx.dev/Document) is
#   attached to the image.
# custom:
#   short_name: present
#   failure_msg: No verified SPDX SBOM attestation for the image
#   solution: Release only images built by Kiln, which attests an SBOM for every build.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	count(lib.spdx_attestations) == 0
	result := lib.result_helper(rego.metadata.chain(), [])
}

# METADATA
# title: SBOM valid
# description: >-
#   Each SPDX SBOM has an spdxVersion listed in the rule data
#   allowed_spdx_versions (by default SPDX-2.3) and at least one package.
# custom:
#   short_name: spdx_valid
#   failure_msg: 'The SPDX SBOM is not valid: %s'
#   solution: Release only images built by Kiln, which writes SPDX 2.3 SBOMs.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some problem in _problems
	result := lib.result_helper(rego.metadata.chain(), [problem])
}

_problems contains sprintf("spdxVersion is '%s', want one of %s", [version, concat(", ", lib.rule_data("allowed_spdx_versions"))]) if {
	some att in lib.spdx_attestations
	version := object.get(att.statement.predicate, "spdxVersion", "")
	not version in lib.rule_data("allowed_spdx_versions")
}

_problems contains "it lists no packages" if {
	some att in lib.spdx_attestations
	count(object.get(att.statement.predicate, "packages", [])) == 0
}

# METADATA
# title: SBOM describes the image
# description: >-
#   Some package of each SPDX SBOM has a purl naming the image's digest
#   (pkg:oci/…@sha256%3A<hex>), so the SBOM is about this image.
# custom:
#   short_name: describes_image
#   failure_msg: The SPDX SBOM '%s' has no package whose purl names the image digest %s
#   solution: Release only images built by Kiln, which describes the artifact in its SBOM.
#   collections:
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.spdx_attestations
	not _describes(att.statement.predicate)
	result := lib.result_helper(rego.metadata.chain(), [object.get(att.statement.predicate, "name", ""), input.image.digest])
}

_describes(doc) if {
	needle := replace(input.image.digest, ":", "%3A")
	some pkg in doc.packages
	some ref in pkg.externalRefs
	ref.referenceType == "purl"
	contains(ref.referenceLocator, needle)
}
