package buildgroup

import "github.com/kilnbuild/kiln/api/v1alpha1"

// Estimating a build that has never run. The planner orders a group by the
// longest chain of expected durations waiting on each member; a member
// without history used to weigh as little as the shortest build, so a long
// first build with few dependants (on the Debian slice: pmix, half of the
// critical path) was started last. It is weighed by the size of its code
// instead, at the rate the namespace's builds have shown.
const (
	// defaultBytesPerSecond is the rate before any build in the namespace
	// has both a duration and a size: about what a 2-core worker compiles
	// of C with its packaging around it (the Debian slice measured 3–12 KB/s).
	defaultBytesPerSecond = 8 << 10
	// defaultFloorSeconds is the least a build is expected to take before
	// history says otherwise (composing, pushing and signing).
	defaultFloorSeconds = 20
	// minRateSamples is how many measured builds replace the defaults.
	minRateSamples = 3
)

// Expected returns each component's expected build duration in seconds:
// last[name] (its last build's duration) where known, otherwise an
// estimate from status.capabilities.sourceBytes. The estimate's rate is
// the measured components' total duration over their total code size,
// its floor their shortest duration; with fewer than minRateSamples
// measured components, the defaults. A component with neither weighs the
// floor.
func Expected(comps []*v1alpha1.Component, last map[string]float64) map[string]float64 {
	rate, floor := rateOf(comps, last)
	out := make(map[string]float64, len(comps))
	for _, c := range comps {
		if s := last[c.Name]; s > 0 {
			out[c.Name] = s
		} else {
			out[c.Name] = max(floor, float64(sourceBytes(c))*rate)
		}
	}
	return out
}

// rateOf is the seconds per byte of code and the shortest duration of the
// components measured with both, or the defaults with too few of them.
func rateOf(comps []*v1alpha1.Component, last map[string]float64) (rate, floor float64) {
	var secs, bytes float64
	samples := 0
	for _, c := range comps {
		s, n := last[c.Name], sourceBytes(c)
		if s <= 0 || n <= 0 {
			continue
		}
		if samples == 0 || s < floor {
			floor = s
		}
		secs, bytes, samples = secs+s, bytes+float64(n), samples+1
	}
	if samples < minRateSamples {
		return 1.0 / defaultBytesPerSecond, defaultFloorSeconds
	}
	return secs / bytes, floor
}

func sourceBytes(c *v1alpha1.Component) int64 {
	if c.Status.Capabilities == nil {
		return 0
	}
	return c.Status.Capabilities.SourceBytes
}
