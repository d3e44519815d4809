# METADATA
# title: Custom checks
package policy.release.custom

import rego.v1

import data.lib

# METADATA
# title: No latest tag
# description: The image reference is pinned, never :latest.
# custom:
#   short_name: no_latest
#   failure_msg: Image %s uses the latest tag
#   collections:
#   - team
#   effective_on: 2027-01-01T00:00:00Z
deny contains result if {
	contains(input.image.ref, ":latest")
	result := lib.result_helper(rego.metadata.chain(), [input.image.ref])
}

# METADATA
# title: Team label
# custom:
#   short_name: team_set
#   failure_msg: Rule data team is %q, want %q
#   collections:
#   - team
deny contains result if {
	data.rule_data.team != "greeters"
	result := lib.result_helper(rego.metadata.chain(), [data.rule_data.team, "greeters"])
}
