# METADATA
# title: Integration tests
# description: >-
#   The snapshot's integration tests passed. Scenarios labelled optional
#   only warn, unless the rule data required_test_scenarios names them.
package policy.release.test

import rego.v1

import data.lib

_results := {"SUCCESS", "FAILURE", "WARNING", "SKIPPED", "ERROR"}

_required := {name | some name in lib.rule_data("required_test_scenarios")}

_blocking(t) if not t.optional == true

_blocking(t) if t.name in _required

# METADATA
# title: No failed tests
# description: No blocking test scenario has result FAILURE.
# custom:
#   short_name: no_failed_tests
#   failure_msg: Test scenario '%s' failed
#   solution: Fix the failure and test a new snapshot.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some t in input.tests
	t.result == "FAILURE"
	_blocking(t)
	result := lib.result_helper_with_term(rego.metadata.chain(), [t.name], t.name)
}

# METADATA
# title: No erred tests
# description: No blocking test scenario has result ERROR.
# custom:
#   short_name: no_erred_tests
#   failure_msg: Test scenario '%s' ended in an error
#   solution: Make the scenario run to completion, then test a new snapshot.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some t in input.tests
	t.result == "ERROR"
	_blocking(t)
	result := lib.result_helper_with_term(rego.metadata.chain(), [t.name], t.name)
}

# METADATA
# title: Known test results
# description: >-
#   Every test result is one of SUCCESS, FAILURE, WARNING, SKIPPED and
#   ERROR, so that no failure goes unnoticed under another spelling.
# custom:
#   short_name: known_results
#   failure_msg: Test scenario '%s' has the unknown result '%s'
#   solution: Report results as SUCCESS, FAILURE, WARNING, SKIPPED or ERROR.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some t in input.tests
	not t.result in _results
	result := lib.result_helper_with_term(rego.metadata.chain(), [t.name, object.get(t, "result", "")], t.name)
}

# METADATA
# title: Required scenarios ran
# description: >-
#   Every scenario named in the rule data required_test_scenarios has a
#   result other than SKIPPED.
# custom:
#   short_name: required_scenarios_ran
#   failure_msg: Required test scenario '%s' did not run
#   solution: Run the scenario for the snapshot, or remove it from required_test_scenarios.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some name in _required
	not _ran(name)
	result := lib.result_helper_with_term(rego.metadata.chain(), [name], name)
}

_ran(name) if {
	some t in input.tests
	t.name == name
	t.result in (_results - {"SKIPPED"})
}

# METADATA
# title: No skipped tests
# description: No blocking test scenario was skipped.
# custom:
#   short_name: no_skipped_tests
#   failure_msg: Test scenario '%s' was skipped
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
warn contains result if {
	some t in input.tests
	t.result == "SKIPPED"
	_blocking(t)
	result := lib.result_helper_with_term(rego.metadata.chain(), [t.name], t.name)
}

# METADATA
# title: No test warnings
# description: No test scenario ended with result WARNING.
# custom:
#   short_name: no_test_warnings
#   failure_msg: Test scenario '%s' passed with warnings
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
warn contains result if {
	some t in input.tests
	t.result == "WARNING"
	result := lib.result_helper_with_term(rego.metadata.chain(), [t.name], t.name)
}

# METADATA
# title: Optional tests passed
# description: Optional (non-blocking) scenarios that failed or erred are reported as warnings.
# custom:
#   short_name: optional_tests_passed
#   failure_msg: Optional test scenario '%s' ended in %s
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
warn contains result if {
	some t in input.tests
	t.result in {"FAILURE", "ERROR"}
	not _blocking(t)
	result := lib.result_helper_with_term(rego.metadata.chain(), [t.name, t.result], t.name)
}
