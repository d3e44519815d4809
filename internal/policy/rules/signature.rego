# METADATA
# title: Signature
# description: >-
#   The image is signed with the key the policy trusts (Kiln's own signing
#   key unless the policy names another), and verification of its evidence
#   found nothing wrong.
package policy.release.signature

import rego.v1

import data.lib

# METADATA
# title: Image signature valid
# description: >-
#   At least one cosign signature of the image verifies with the builder's
#   public key.
# custom:
#   short_name: image_signed
#   failure_msg: No image signature verifies with the builder key
#   solution: >-
#     Release images built and signed by Kiln, or set the policy's
#     publicKey to the key that signed them.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	not _signed
	result := lib.result_helper(rego.metadata.chain(), [])
}

_signed if {
	input.kiln.publicKeyVerified == true
	count(input.image.signatures) > 0
}

# METADATA
# title: Evidence verified
# description: >-
#   Verification reported no error: every attestation layer verified with
#   the key and names the image, and the plain SBOM is the attested one.
# custom:
#   short_name: evidence_verified
#   failure_msg: 'Verification failed: %s'
#   solution: >-
#     Rebuild the image so that Kiln signs fresh evidence; a layer that
#     does not verify may have been tampered with.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some err in input.kiln.verifyErrors
	result := lib.result_helper(rego.metadata.chain(), [err])
}
