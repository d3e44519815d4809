package buildroot

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
)

// evictPrefix names an entry being removed: it is renamed first, so that a
// crash leaves a dot-entry that the next start removes, never half an
// entry under its key.
const evictPrefix = ".evict-"

// entry is one composed buildroot on disk, Dir/<ns>/<name>.
type entry struct {
	ns, name string
	// size is the bytes it takes on disk; -1 until measured (entries
	// found on disk at start-up are measured when eviction needs them).
	size int64
	// used is when it was last handed out, also its directory's mtime.
	used time.Time
	// refs counts the builds using it; it is not evicted while > 0.
	refs int
}

func (e *entry) id() string { return e.ns + "/" + e.name }

// index is what the cache knows of its entries, loaded from Dir at first
// use.
type index struct {
	entries map[string]*entry // by ns/name
	// last is the latest recency given: stamps only grow, so the order
	// of uses survives a restart even when the clock is coarse.
	last time.Time
	// over is set when the last eviction left the cache over its bound
	// (everything else in use): a release evicts again.
	over bool
}

// lease is one build's use of an entry.
type lease struct {
	once sync.Once
	c    *Cache
	e    *entry
}

// Release says the buildroot is no longer used by whoever got it from
// Compose: from now on it may be evicted. It may be called more than once;
// on a Result without a buildroot it does nothing.
func (r Result) Release() {
	if l := r.lease; l != nil {
		l.once.Do(func() { l.c.release(l.e) })
	}
}

// loadLocked reads Dir at first use: every entry with its directory's
// mtime as its last use, size unmeasured. Dot-entries left by a crash
// (compositions and evictions in progress) are removed. c.mu is held.
func (c *Cache) loadLocked() {
	if c.idx != nil {
		return
	}
	c.idx = &index{entries: map[string]*entry{}}
	namespaces, err := os.ReadDir(c.Dir)
	if err != nil && !os.IsNotExist(err) {
		c.logger().Warn("reading the buildroot cache", "dir", c.Dir, "err", err)
	}
	for _, ns := range namespaces {
		if ns.IsDir() {
			c.loadNamespace(ns.Name())
		}
	}
}

func (c *Cache) loadNamespace(ns string) {
	dir := filepath.Join(c.Dir, ns)
	children, err := os.ReadDir(dir)
	if err != nil {
		c.logger().Warn("reading the buildroot cache", "dir", dir, "err", err)
		return
	}
	for _, d := range children {
		path := filepath.Join(dir, d.Name())
		if strings.HasPrefix(d.Name(), ".") {
			c.logger().Info("removing a buildroot left by an interrupted composition or eviction", "dir", path)
			if err := os.RemoveAll(path); err != nil {
				c.logger().Warn("removing a leftover buildroot", "dir", path, "err", err)
			}
			continue
		}
		if info, err := d.Info(); err == nil && info.IsDir() {
			e := &entry{ns: ns, name: d.Name(), size: -1, used: info.ModTime()}
			c.idx.entries[e.id()] = e
			if e.used.After(c.idx.last) {
				c.idx.last = e.used
			}
		}
	}
}

// acquire hands out the entry ns/name if it is on disk: it is in use until
// released and its recency is refreshed. nil: there is none.
func (c *Cache) acquire(ns, name string) *lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadLocked()
	path := filepath.Join(c.Dir, ns, name)
	e := c.idx.entries[ns+"/"+name]
	if _, err := os.Stat(path); err != nil {
		if e != nil {
			delete(c.idx.entries, e.id())
		}
		return nil
	}
	if e == nil { // put there behind the cache's back: measure it later
		e = &entry{ns: ns, name: name, size: -1}
		c.idx.entries[e.id()] = e
	}
	c.useLocked(e)
	return &lease{c: c, e: e}
}

// add records the entry ns/name just composed, in use by its composer.
func (c *Cache) add(ns, name string, size int64) *lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadLocked()
	e := &entry{ns: ns, name: name, size: size}
	c.idx.entries[e.id()] = e
	c.useLocked(e)
	return &lease{c: c, e: e}
}

// useLocked takes a reference to e and makes it the most recently used,
// in memory and in its directory's mtime. c.mu is held.
func (c *Cache) useLocked(e *entry) {
	e.refs++
	now := time.Now().Round(0)
	if !now.After(c.idx.last) {
		now = c.idx.last.Add(time.Microsecond)
	}
	e.used, c.idx.last = now, now
	path := c.path(e)
	if err := os.Chtimes(path, now, now); err != nil {
		c.logger().Warn("recording a buildroot's use", "dir", path, "err", err)
	}
}

// release drops a reference to e; if the last eviction left the cache
// over its bound, it evicts again.
func (c *Cache) release(e *entry) {
	c.mu.Lock()
	e.refs--
	over := c.idx.over
	c.mu.Unlock()
	if over {
		c.evict(nil)
	}
}

// evict removes the least recently used entries not in use until the
// cache fits in MaxBytes, saying so to log (if any) and the logger.
// One eviction runs at a time.
func (c *Cache) evict(log io.Writer) {
	if c.MaxBytes <= 0 {
		return
	}
	c.evicting.Lock()
	defer c.evicting.Unlock()
	c.measure()
	victims, total, over := c.pick()
	for _, v := range victims {
		note(log, c.logger(), fmt.Sprintf("buildroot cache: evicted %s (%s, last used %s): the cache held %s, over its bound of %s",
			v.e.id(), humanize.IBytes(uint64(v.e.size)), v.e.used.UTC().Format(time.RFC3339), humanize.IBytes(uint64(v.total)),
			humanize.IBytes(uint64(c.MaxBytes))))
		if err := c.remove(v.path); err != nil {
			c.logger().Warn("removing an evicted buildroot (removed again at the next start)", "dir", v.path, "err", err)
		}
	}
	if over {
		note(log, c.logger(), fmt.Sprintf("buildroot cache: holds %s, over its bound of %s: the buildroots left are in use",
			humanize.IBytes(uint64(total)), humanize.IBytes(uint64(c.MaxBytes))))
	}
}

func (c *Cache) remove(path string) error {
	if c.removeAll != nil {
		return c.removeAll(path)
	}
	return os.RemoveAll(path)
}

// measure sizes the entries found on disk at start-up (once, at the first
// eviction), outside c.mu.
func (c *Cache) measure() {
	c.mu.Lock()
	var todo []*entry
	for _, e := range c.idx.entries {
		if e.size < 0 {
			todo = append(todo, e)
		}
	}
	c.mu.Unlock()
	for _, e := range todo {
		path := c.path(e)
		size, err := diskUsage(path)
		if err != nil {
			c.logger().Warn("measuring a buildroot", "dir", path, "err", err)
		}
		c.mu.Lock()
		e.size = size
		c.mu.Unlock()
	}
}

// victim is an entry renamed away, to be removed.
type victim struct {
	e     *entry
	path  string
	total int64 // the cache's size when it was chosen
}

// pick chooses the entries to evict, least recently used first, and
// renames each to a dot-entry, all under c.mu: an entry being handed out
// is in use, and one in use is never picked. It returns them and the
// cache's size without them, and whether that is still over the bound.
func (c *Cache) pick() ([]victim, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var total int64
	var idle []*entry
	for _, e := range c.idx.entries {
		total += max(e.size, 0)
		if e.refs == 0 {
			idle = append(idle, e)
		}
	}
	slices.SortFunc(idle, func(a, b *entry) int { return cmp.Or(a.used.Compare(b.used), cmp.Compare(a.id(), b.id())) })
	var out []victim
	for _, e := range idle {
		if total <= c.MaxBytes {
			break
		}
		path, err := c.renameAway(e)
		if err != nil {
			c.logger().Warn("evicting a buildroot", "buildroot", e.id(), "err", err)
			continue
		}
		delete(c.idx.entries, e.id())
		if path != "" {
			out = append(out, victim{e: e, path: path, total: total})
		}
		total -= max(e.size, 0)
	}
	c.idx.over = total > c.MaxBytes
	return out, total, c.idx.over
}

// renameAway moves e's directory to a dot-entry beside it; an entry gone
// already (its namespace deleted) is renamed nowhere.
func (c *Cache) renameAway(e *entry) (string, error) {
	dir := filepath.Join(c.Dir, e.ns)
	to := filepath.Join(dir, evictPrefix+e.name+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	err := os.Rename(filepath.Join(dir, e.name), to)
	if os.IsNotExist(err) {
		return "", nil
	}
	return to, err
}

// PurgeNamespace forgets and deletes namespace ns's buildroots. Its builds
// must have stopped.
func (c *Cache) PurgeNamespace(ns string) error {
	c.mu.Lock()
	if c.idx != nil {
		for id, e := range c.idx.entries {
			if e.ns == ns {
				delete(c.idx.entries, id)
			}
		}
	}
	c.mu.Unlock()
	if err := os.RemoveAll(filepath.Join(c.Dir, ns)); err != nil {
		return fmt.Errorf("deleting the buildroots of namespace %s: %w", ns, err)
	}
	return nil
}

func (c *Cache) logger() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// note says msg in the build log (when there is one) and to the logger.
func note(w io.Writer, l *slog.Logger, msg string) {
	if w != nil {
		fmt.Fprintf(w, "==> %s\n", msg)
	}
	l.Info(msg)
}
