# METADATA
# title: Source
# description: >-
#   The image was built from an exact git commit, and from the source the
#   snapshot says.
package policy.release.source

import rego.v1

import data.lib

# METADATA
# title: Source pinned to a commit
# description: >-
#   The provenance's externalParameters.source.commit is a full git commit
#   (40 or 64 lower-case hex digits) that is also a git+ resolved
#   dependency with that gitCommit digest.
# custom:
#   short_name: pinned_commit
#   failure_msg: Source is not pinned to a git commit in resolvedDependencies (commit '%s')
#   solution: Release only images built by Kiln, which records the commit it built.
#   collections:
#   - minimal
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.slsa_provenance_attestations
	not _pinned(att.statement.predicate)
	commit := object.get(att.statement.predicate, ["buildDefinition", "externalParameters", "source", "commit"], "")
	result := lib.result_helper(rego.metadata.chain(), [commit])
}

_pinned(p) if {
	commit := p.buildDefinition.externalParameters.source.commit
	regex.match(`^([0-9a-f]{40}|[0-9a-f]{64})$`, commit)
	some dep in p.buildDefinition.resolvedDependencies
	startswith(dep.uri, "git+")
	dep.digest.gitCommit == commit
}

# METADATA
# title: Source matches the snapshot
# description: >-
#   The provenance's source repository is the git url of the snapshot
#   component that has this image (or input.image.source), and its commit
#   is that component's revision when one is given. URLs are compared
#   without a git+ prefix, a trailing slash or a .git suffix.
# custom:
#   short_name: matches_snapshot
#   failure_msg: Provenance source %s does not match the snapshot's source %s
#   solution: >-
#     Make the snapshot name the repository and revision the image was
#     built from.
#   collections:
#   - slsa3
#   effective_on: 2026-01-01T00:00:00Z
deny contains result if {
	some att in lib.slsa_provenance_attestations
	src := object.get(att.statement.predicate, ["buildDefinition", "externalParameters", "source"], {})
	not _matches(src)
	got := sprintf("%s@%s", [object.get(src, "uri", ""), object.get(src, "commit", "")])
	result := lib.result_helper(rego.metadata.chain(), [got, _expected_text])
}

_matches(src) if {
	_normal_url(src.uri) == _normal_url(_expected.url)
	_revision_matches(src.commit)
}

_revision_matches(_) if not _expected.revision

_revision_matches(commit) if _expected.revision == commit

_snapshot_sources := [c.source.git |
	some c in input.snapshot.components
	lib.image_digest_of(c.containerImage) == input.image.digest
	c.source.git.url
]

_expected := s if {
	s := _snapshot_sources[0]
} else := s if {
	s := input.image.source.git
	s.url
}

_expected_text := sprintf("%s@%s", [_expected.url, object.get(_expected, "revision", "(any revision)")]) if {
	_expected.url
} else := "(none: no snapshot component has this image and input.image.source is empty)"

_normal_url(u) := trim_suffix(trim_suffix(trim_prefix(u, "git+"), "/"), ".git")
