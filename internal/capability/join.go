package capability

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// partitionSize is about how many provides a partition holds. Resolve
// matches requirements to providers with a partitioned hash join: both
// sides are split by a hash of the capability into partitions, their names
// copied next to each other, and each partition is joined with a small
// hash table that stays in the CPU cache. One big map over 300,000
// capabilities spends most of its time waiting for memory (README.md has
// the figures).
const partitionSize = 1024

// walk calls fn for each key of one side of the join, always in the same
// order: the name, the component it belongs to and (for requirements) its
// slot in the results.
type walk func(fn func(name string, owner, slot int32))

// span is one key in partitioned.arena.
type span struct {
	start, end  uint32
	owner, slot int32
}

// partitioned holds the keys of one side grouped by partition: partition
// p is spans[off[p]:off[p+1]], in walk order, its names in arena.
type partitioned struct {
	arena []byte
	spans []span
	off   []int32
	parts []uint32 // each key's partition, in walk order
}

func (p *partitioned) part(i int) []span { return p.spans[p.off[i]:p.off[i+1]] }

func (p *partitioned) name(s span) []byte { return p.arena[s.start:s.end] }

// partitionBits is log2 of the number of partitions for n provides.
func partitionBits(n int) uint { return uint(bits.Len(uint(n / partitionSize))) }

// scratchPool keeps the large buffers of partitioned between calls:
// resolving 30,000 components needs about 30 MB of them. Nothing in a
// Resolution refers to them.
var scratchPool = sync.Pool{New: func() any { return new(partitioned) }}

// grow returns s with length n, reusing its array when large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// partition groups the n keys of w by the top b bits of their hash: a
// counting sort, stable, walking w twice. It returns nil when the names
// do not fit in 4 GiB. Put the result back in scratchPool when done.
func partition(w walk, n int, seed maphash.Seed, b uint) *partitioned {
	out := scratchPool.Get().(*partitioned)
	part := grow(out.parts, n)[:0]
	off := make([]int32, 1<<b+1)
	size := make([]int, 1<<b+1)
	w(func(name string, _, _ int32) {
		p := uint32(maphash.String(seed, name) >> (64 - b))
		part = append(part, p)
		off[p+1]++
		size[p+1] += len(name)
	})
	for i := 1; i < len(off); i++ {
		off[i] += off[i-1]
		size[i] += size[i-1]
	}
	out.parts = part
	if size[len(size)-1] > math.MaxUint32 {
		scratchPool.Put(out)
		return nil // span offsets are 32-bit
	}
	scatter(w, out, off, size)
	return out
}

// scatter copies every key to its partition's next place.
func scatter(w walk, out *partitioned, off []int32, size []int) {
	n, part := len(off)-1, out.parts
	out.arena, out.spans, out.off = grow(out.arena, size[n]), grow(out.spans, len(part)), off
	next, pos := slices.Clone(off[:n]), slices.Clone(size[:n])
	i := 0
	w(func(name string, owner, slot int32) {
		p := part[i]
		out.spans[next[p]] = span{start: uint32(pos[p]), end: uint32(pos[p] + len(name)), owner: owner, slot: slot}
		copy(out.arena[pos[p]:], name)
		next[p]++
		pos[p] += len(name)
		i++
	})
}

// join fills results for every requirement alternative and returns the
// ambiguous capabilities, sorted. Partitions are joined in parallel; each
// writes only the result slots of its own keys.
func (r *resolver) join(nProvides, nQueries int, results []int32) ([]Ambiguous, error) {
	seed := maphash.MakeSeed()
	b := partitionBits(nProvides)
	var pp, qp *partitioned
	var wg sync.WaitGroup
	wg.Go(func() { pp = partition(r.walkProvides, nProvides, seed, b) })
	qp = partition(r.walkQueries, nQueries, seed, b)
	wg.Wait()
	defer putScratch(pp, qp)
	if pp == nil || qp == nil {
		return nil, fmt.Errorf("resolving capabilities: more than 4 GiB of capability names")
	}
	n := 1 << b
	workers := min(runtime.GOMAXPROCS(0), n)
	found := make([][]Ambiguous, workers)
	for w := range workers {
		wg.Go(func() {
			j := &joiner{r: r, seed: seed, pp: pp, qp: qp, results: results}
			for p := w; p < n; p += workers {
				j.joinPartition(p)
			}
			found[w] = j.ambiguous
		})
	}
	wg.Wait()
	out := slices.Concat(found...)
	slices.SortFunc(out, func(a, b Ambiguous) int { return strings.Compare(a.Capability, b.Capability) })
	return out, nil
}

func putScratch(ps ...*partitioned) {
	for _, p := range ps {
		if p != nil {
			scratchPool.Put(p)
		}
	}
}

// joiner joins partitions one after the other, reusing its table.
type joiner struct {
	r         *resolver
	seed      maphash.Seed
	pp, qp    *partitioned
	results   []int32
	t         table
	ambiguous []Ambiguous
}

func (j *joiner) joinPartition(p int) {
	provs := j.pp.part(p)
	j.t.reset(len(provs))
	for _, s := range provs {
		name := j.pp.name(s)
		j.t.add(j.pp.arena, s, maphash.Bytes(j.seed, name), name)
	}
	for i := range j.t.caps {
		if c := &j.t.caps[i]; c.multi != nil {
			j.ambiguous = append(j.ambiguous, j.r.choose(c, j.pp.arena))
		}
	}
	for _, s := range j.qp.part(p) {
		name := j.qp.name(s)
		if c := j.t.find(j.pp.arena, name, maphash.Bytes(j.seed, name)); c >= 0 {
			j.results[s.slot] = j.t.caps[c].resolveFor(s.owner)
		}
	}
}

// table is an open-addressing hash table (linear probing) of the
// capabilities of one partition.
type table struct {
	slots []int32 // index into caps, -1 when empty
	mask  uint64
	caps  []capInfo
}

// capInfo is what is known of one capability.
type capInfo struct {
	start, end uint32 // its name in the provides' arena
	hash       uint64
	chosen     int32   // the provider requirements resolve to
	last       int32   // the provider seen last (they come in ID order)
	multi      []int32 // every provider, when there are several
}

// reset empties the table and sizes it for n names (load at most 1/2).
func (t *table) reset(n int) {
	size := max(8, 1<<bits.Len(uint(2*n)))
	if cap(t.slots) < size {
		t.slots = make([]int32, size)
	}
	t.slots = t.slots[:size]
	for i := range t.slots {
		t.slots[i] = -1
	}
	t.mask = uint64(size - 1)
	t.caps = t.caps[:0]
}

// find returns the index in caps of name, or -1.
func (t *table) find(arena, name []byte, h uint64) int32 {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		c := t.slots[i]
		if c < 0 || (t.caps[c].hash == h && bytes.Equal(arena[t.caps[c].start:t.caps[c].end], name)) {
			return c
		}
	}
}

// add records that s.owner provides the name at s.
func (t *table) add(arena []byte, s span, h uint64, name []byte) {
	i := h & t.mask
	for ; t.slots[i] >= 0; i = (i + 1) & t.mask {
		c := &t.caps[t.slots[i]]
		if c.hash == h && bytes.Equal(arena[c.start:c.end], name) {
			c.addProvider(s.owner)
			return
		}
	}
	t.slots[i] = int32(len(t.caps))
	t.caps = append(t.caps, capInfo{start: s.start, end: s.end, hash: h, chosen: s.owner, last: s.owner})
}

func (c *capInfo) addProvider(id int32) {
	if c.last == id {
		return
	}
	if c.multi == nil {
		c.multi = []int32{c.chosen}
	}
	c.multi = append(c.multi, id)
	c.last = id
}

// choose settles an ambiguous capability: the provider named like its base
// name, else the first by name.
func (r *resolver) choose(c *capInfo, arena []byte) Ambiguous {
	name := string(arena[c.start:c.end])
	base := BaseName(name)
	for _, id := range c.multi {
		if strings.EqualFold(r.names[id], base) {
			c.chosen = id
			break
		}
	}
	a := Ambiguous{Capability: name, Chosen: r.names[c.chosen], Providers: make([]string, len(c.multi))}
	for i, id := range c.multi {
		a.Providers[i] = r.names[id]
	}
	return a
}

func (c *capInfo) resolveFor(owner int32) int32 {
	if c.chosen == owner || (c.multi != nil && slices.Contains(c.multi, owner)) {
		return selfProvided
	}
	return c.chosen
}
