package pipeline

import "reflect"

// unsupported lists, per Go type, the Tekton fields Kiln knows but does not
// support, each with a hint. The strict decoder rejects them with
// "<path>: not supported by Kiln: <hint>"; any other unknown key is an
// "unknown field".
var unsupported = map[reflect.Type]map[string]string{
	reflect.TypeFor[TaskObject]():        {"status": statusHint},
	reflect.TypeFor[PipelineObject]():    {"status": statusHint},
	reflect.TypeFor[PipelineRunObject](): {"status": statusHint},
	reflect.TypeFor[TaskSpec](): {
		"sidecars": "steps run one at a time in a sandbox; start helper processes from a step's script",
		"volumes":  volumeHint,
	},
	reflect.TypeFor[StepTemplate](): {
		"command":          "a step template supports image, env and workingDir",
		"args":             "a step template supports image, env and workingDir",
		"envFrom":          envFromHint,
		"computeResources": "set computeResources.limits.memory on each step",
		"volumeMounts":     volumeHint,
		"volumeDevices":    volumeHint,
		"imagePullPolicy":  pullHint,
		"securityContext":  securityHint,
	},
	reflect.TypeFor[Step](): {
		"envFrom":         envFromHint,
		"volumeMounts":    volumeHint,
		"volumeDevices":   volumeHint,
		"imagePullPolicy": pullHint,
		"securityContext": securityHint,
		"workspaces":      "declare workspaces on the task",
		"stdoutConfig":    logHint,
		"stderrConfig":    logHint,
		"ref":             stepActionHint,
		"params":          stepActionHint,
		"results":         "declare results on the task and write them to $(results.NAME.path)",
		"when":            "put when expressions on the pipeline task",
		"ports":           "steps have no network",
	},
	reflect.TypeFor[ComputeResources](): {
		"requests": "only limits.memory is enforced",
		"claims":   "only limits.memory is enforced",
	},
	reflect.TypeFor[ResourceLimits](): {
		"cpu":               "only limits.memory is enforced",
		"ephemeral-storage": "only limits.memory is enforced",
	},
	reflect.TypeFor[EnvVarSource](): {
		"configMapKeyRef":  "use a param, or valueFrom.secretKeyRef",
		"fieldRef":         "use a $(context...) variable",
		"resourceFieldRef": "use a value",
	},
	reflect.TypeFor[TaskResult](): {
		"value": stepActionHint,
	},
	reflect.TypeFor[PipelineTask](): {
		"retries":      "builds are hermetic: a failed task is not retried",
		"matrix":       "declare one pipeline task per combination",
		"pipelineRef":  "pipelines in pipelines are not supported; list the tasks",
		"pipelineSpec": "pipelines in pipelines are not supported; list the tasks",
		"onError":      "a failing task fails the pipeline; use finally tasks for clean-up",
	},
	reflect.TypeFor[TaskRef](): {
		"resolver": resolverHint,
		"params":   resolverHint,
		"bundle":   resolverHint,
	},
	reflect.TypeFor[EmbeddedTask](): {
		"apiVersion": customTaskHint,
		"kind":       customTaskHint,
		"spec":       customTaskHint,
	},
	reflect.TypeFor[WhenExpression](): {
		"cel": "use input, operator (in, notin) and values",
	},
	reflect.TypeFor[PipelineRunSpec](): {
		"taskRunTemplate": "Kiln chooses the sandbox and identity of every step",
		"taskRunSpecs":    "Kiln chooses the sandbox and identity of every step",
		"status":          "a PipelineRun always runs",
		"managedBy":       "Kiln runs the pipeline itself",
	},
	reflect.TypeFor[PipelineRef](): {
		"resolver": resolverHint,
		"params":   resolverHint,
		"bundle":   resolverHint,
	},
	reflect.TypeFor[WorkspaceBinding](): {
		"persistentVolumeClaim": workspaceHint,
		"configMap":             workspaceHint,
		"secret":                workspaceHint,
		"projected":             workspaceHint,
		"csi":                   workspaceHint,
		"subPath":               "Kiln provides every workspace as a fresh directory; set subPath on the pipeline task's binding",
	},
}

const (
	statusHint     = "status is written by the system that runs the object; remove it"
	volumeHint     = "use workspaces"
	envFromHint    = "list env entries (valueFrom.secretKeyRef for secrets)"
	pullHint       = "Kiln resolves every image to a digest once per run"
	securityHint   = "every step runs unprivileged in Kiln's sandbox"
	logHint        = "Kiln keeps every step's output in the run's logs"
	stepActionHint = "StepActions are not supported; put the command in the step"
	resolverHint   = "name a Task or Pipeline defined in the same files, or a Kiln catalog task"
	customTaskHint = "custom tasks are not supported; use a task with steps"
	workspaceHint  = "Kiln provides every workspace as a fresh directory; use emptyDir or volumeClaimTemplate, or pass secrets with valueFrom.secretKeyRef"
)
