package capability

import (
	"sort"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// Status is s as a component's status.capabilities records it, detected
// at commit: the names provided, the build requirements that are not
// optional ("a|b" for alternatives), the detectors that fired and the
// size of the code.
func (s *Set) Status(commit string) *v1alpha1.Capabilities {
	out := &v1alpha1.Capabilities{Commit: commit, Detected: s.Detected, SourceBytes: s.SourceBytes}
	for _, p := range s.Provides {
		out.Provides = append(out.Provides, p.Name)
	}
	for _, r := range s.BuildRequires {
		if !r.Optional {
			out.Requires = append(out.Requires, strings.Join(r.Any, "|"))
		}
	}
	sort.Strings(out.Provides)
	sort.Strings(out.Requires)
	return out
}
