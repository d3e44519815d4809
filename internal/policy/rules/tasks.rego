# METADATA
# title: Pipeline tasks
# description: >-
#   The provenance names the pipeline the build ran, and the tasks the
#   release requires were part of it. Kiln's provenance records the
#   pipeline (source and digest) but not its task names, so the tasks of a
#   pipeline come from the rule data pipeline_tasks, keyed by the
#   pipeline's digest, unless the provenance lists them itself under
#   externalParameters.pipeline.tasks.
package policy.release.tasks

import rego.v1

import data.lib

# METADATA
# title: Pipeline recorded
# description: >-
#   The provenance's externalParameters.pipeline.digest is a sha256 digest,
#   also recorded as the resolved dependency named "pipeline".
# custom:
#   short_name: pipeline_recorded
#   failure_msg: The provenance does not record the pipeline's digest (pipeline %s)
#   solution: Release only images built by Kiln, which records the pipeline it ran.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.slsa_provenance_attestations
	not _recorded(att.statement.predicate)
	result := lib.result_helper(rego.metadata.chain(), [_describe(_pipeline(att))])
}

_recorded(p) if {
	digest := p.buildDefinition.externalParameters.pipeline.digest
	regex.match(`^sha256:[0-9a-f]{64}$`, digest)
	some dep in p.buildDefinition.resolvedDependencies
	dep.name == "pipeline"
	sprintf("sha256:%s", [dep.digest.sha256]) == digest
}

# METADATA
# title: Required tasks ran
# description: >-
#   Every task named in the rule data required_tasks is a task of the
#   pipeline the build ran. The term of each failure is the task name.
# custom:
#   short_name: required_tasks_ran
#   failure_msg: Required task '%s' is not known to have run in pipeline %s
#   solution: >-
#     Add the task to the pipeline. If it is there, list the tasks of the
#     pipeline's digest in the rule data pipeline_tasks.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.slsa_provenance_attestations
	pipeline := _pipeline(att)
	some task in lib.rule_data("required_tasks")
	not task in _tasks_ran(pipeline)
	result := lib.result_helper_with_term(rego.metadata.chain(), [task, _describe(pipeline)], task)
}

_pipeline(att) := object.get(att.statement.predicate, ["buildDefinition", "externalParameters", "pipeline"], {})

_tasks_ran(pipeline) := {t | some t in pipeline.tasks} if {
	is_array(pipeline.tasks)
} else := {t | some t in data.rule_data.pipeline_tasks[pipeline.digest]} if {
	is_array(data.rule_data.pipeline_tasks[pipeline.digest])
} else := set()

_describe(pipeline) := sprintf("%s (%s)", [object.get(pipeline, "source", "?"), object.get(pipeline, "digest", "no digest")])
