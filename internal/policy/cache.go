package policy

import "sync"

// maxPrograms bounds the cache; a release service sees few policies.
const maxPrograms = 64

// programs caches compiled policies by digest.
var programs = &programCache{byDigest: map[string]*cacheEntry{}}

type programCache struct {
	mu       sync.Mutex
	byDigest map[string]*cacheEntry
	order    []string // digests, oldest first
}

type cacheEntry struct {
	ready chan struct{} // closed when prog or err is set
	prog  *program
	err   error
}

// get returns the program for digest, compiling it at most once at a
// time. Failures are not cached.
func (c *programCache) get(digest string, compile func() (*program, error)) (*program, error) {
	c.mu.Lock()
	if e, ok := c.byDigest[digest]; ok {
		c.mu.Unlock()
		<-e.ready
		if e.err == nil {
			return e.prog, nil
		}
		return c.get(digest, compile) // the other compile failed: try ours
	}
	e := &cacheEntry{ready: make(chan struct{})}
	c.byDigest[digest] = e
	c.mu.Unlock()

	e.prog, e.err = compile()
	c.mu.Lock()
	if e.err != nil {
		delete(c.byDigest, digest)
	} else {
		c.remember(digest)
	}
	c.mu.Unlock()
	close(e.ready)
	return e.prog, e.err
}

// remember records digest as the newest entry, evicting the oldest ones
// beyond maxPrograms. Called with mu held.
func (c *programCache) remember(digest string) {
	c.order = append(c.order, digest)
	for len(c.order) > maxPrograms {
		delete(c.byDigest, c.order[0])
		c.order = c.order[1:]
	}
}

// size is the number of cached programs (for tests).
func (c *programCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.order)
}
