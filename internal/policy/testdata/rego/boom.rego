# Fails at evaluation time for the component "web": a complete rule with
# two values.
package policy.release.boom

import rego.v1

import data.lib

_x := 1 if input.kiln.component == "web"

_x := 2 if input.kiln.component == "web"

# METADATA
# title: Boom
# custom:
#   short_name: boom
#   failure_msg: boom
deny contains result if {
	_x == 1
	result := lib.result_helper(rego.metadata.chain(), [])
}
