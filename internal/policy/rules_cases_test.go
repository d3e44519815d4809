package policy

import (
	"strings"
	"testing"
)

func signatureCases() []ruleCase {
	return []ruleCase{
		{name: "passing input"},
		{name: "signature not verified with the key", deny: []string{"signature.image_signed"},
			mutate: func(_ *testing.T, in *Input) { in.Kiln.PublicKeyVerified = false }},
		{name: "no signature", deny: []string{"signature.image_signed"},
			mutate: func(_ *testing.T, in *Input) { in.Image.Signatures = nil }},
		{name: "verification errors", deny: []string{"signature.evidence_verified"}, msg: "Verification failed: layer 2 tampered",
			mutate: func(_ *testing.T, in *Input) { in.Kiln.VerifyErrors = []string{"layer 2 tampered"} }},
	}
}

func attestationCases() []ruleCase {
	return []ruleCase{
		{name: "unknown statement type", deny: []string{"attestation_type.known_attestation_type"}, msg: "Unknown attestation type 'https://in-toto.io/Statement/v0.1'",
			mutate: func(t *testing.T, in *Input) {
				editStatement(t, in, slsaType, func(st map[string]any) { st["_type"] = "https://in-toto.io/Statement/v0.1" })
			}},
		{name: "v0.1 statements allowed by rule data", ruleData: map[string]any{"known_attestation_types": []any{"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"}},
			mutate: func(t *testing.T, in *Input) {
				editStatement(t, in, slsaType, func(st map[string]any) { st["_type"] = "https://in-toto.io/Statement/v0.1" })
			}},
		{name: "no provenance", deny: []string{"attestation_type.provenance_present"},
			mutate: func(_ *testing.T, in *Input) { dropStatement(in, slsaType) }},
		{name: "SLSA v0.2 provenance is not v1", deny: []string{"attestation_type.provenance_present"},
			mutate: func(t *testing.T, in *Input) {
				editStatement(t, in, slsaType, func(st map[string]any) { st["predicateType"] = "https://slsa.dev/provenance/v0.2" })
			}},
	}
}

func builderCases() []ruleCase {
	return []ruleCase{
		{name: "another installation's builder", deny: []string{"builder.trusted_builder_id"}, msg: "trusted builders are https://kiln.other/builder/v1",
			mutate: func(_ *testing.T, in *Input) { in.Kiln.BuilderID = "https://kiln.other/builder/v1" }},
		{name: "builder trusted by rule data", ruleData: map[string]any{"allowed_builder_ids": []any{testBuilder}},
			mutate: func(_ *testing.T, in *Input) { in.Kiln.BuilderID = "" }},
		{name: "no trusted builder configured", deny: []string{"builder.trusted_builder_id"}, msg: "none: set input.kiln.builderId",
			mutate: func(_ *testing.T, in *Input) { in.Kiln.BuilderID = "" }},
		{name: "foreign build type", deny: []string{"builder.kiln_build_type"}, msg: "https://tekton.dev/chains/v2/slsa",
			mutate: editProvenance(func(p map[string]any) { obj(p, "buildDefinition")["buildType"] = "https://tekton.dev/chains/v2/slsa" })},
		{name: "step ran on the host", deny: []string{"builder.isolated_steps"},
			mutate: editProvenance(func(p map[string]any) { addDependency(p, map[string]any{"uri": "kiln:host"}) })},
	}
}

func sourceCases() []ruleCase {
	setCommit := func(c string) func(t *testing.T, in *Input) {
		return editProvenance(func(p map[string]any) { obj(p, "buildDefinition", "externalParameters", "source")["commit"] = c })
	}
	setSnapshotGit := func(url, rev string) func(t *testing.T, in *Input) {
		return func(_ *testing.T, in *Input) {
			in.Snapshot.Components[0].Source.Git = &GitSource{URL: url, Revision: rev}
		}
	}
	return []ruleCase{
		{name: "abbreviated commit", deny: []string{"source.pinned_commit", "source.matches_snapshot"}, msg: "(commit '0123456')",
			mutate: setCommit("0123456")},
		{name: "commit not a resolved dependency", deny: []string{"source.pinned_commit", "source.matches_snapshot"},
			mutate: setCommit(strings.Repeat("9", 40))},
		{name: "other repository than the snapshot", deny: []string{"source.matches_snapshot"}, msg: "https://git.example.com/evil/greet.git",
			mutate: setSnapshotGit("https://git.example.com/evil/greet.git", "")},
		{name: "other revision than the snapshot", deny: []string{"source.matches_snapshot"},
			mutate: setSnapshotGit(testRepo, strings.Repeat("1", 40))},
		{name: "URL spelled without .git, any revision",
			mutate: setSnapshotGit("git+https://git.example.com/team/greet/", "")},
		{name: "image not in the snapshot, input.image.source used",
			mutate: func(_ *testing.T, in *Input) { in.Snapshot.Components = in.Snapshot.Components[1:] }},
		{name: "image not in the snapshot, no source", deny: []string{"source.matches_snapshot"}, msg: "(none: no snapshot component",
			mutate: func(_ *testing.T, in *Input) { in.Snapshot.Components, in.Image.Source = nil, nil }},
	}
}

func provenanceCases() []ruleCase {
	meta := func(f func(m map[string]any)) func(t *testing.T, in *Input) {
		return editProvenance(func(p map[string]any) { f(obj(p, "runDetails", "metadata")) })
	}
	return []ruleCase{
		{name: "no invocation id", deny: []string{"provenance.invocation_id"},
			mutate: meta(func(m map[string]any) { delete(m, "invocationId") })},
		{name: "finished before it started", deny: []string{"provenance.build_timestamps"},
			mutate: meta(func(m map[string]any) { m["finishedOn"] = "2026-11-02T09:00:00Z" })},
		{name: "no start time", deny: []string{"provenance.build_timestamps"}, msg: `startedOn ""`,
			mutate: meta(func(m map[string]any) { delete(m, "startedOn") })},
		{name: "no metadata at all", deny: []string{"provenance.build_timestamps", "provenance.invocation_id"},
			mutate: editProvenance(func(p map[string]any) { delete(obj(p, "runDetails"), "metadata") })},
	}
}
