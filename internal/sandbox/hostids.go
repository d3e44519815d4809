package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// HostIDs is the range of host uids (and the same gids) that steps run as
// when the server runs as root: every run leases one of them for all its
// steps (Bubblewrap.Lease), so that no step ever runs as host uid 0 or as a
// user that owns anything on the host.
type HostIDs struct {
	First int // first uid and gid of the range
	Count int // how many
}

// DefaultHostIDs are the 65536 ids from 2000000000: above the range
// systemd-nspawn allocates containers from (524288–1879048191), below
// systemd's foreign range (2147352576–) and below 2^31 (some programs
// treat ids as signed 32-bit numbers), and far above any account.
var DefaultHostIDs = HostIDs{First: 2_000_000_000, Count: 65536}

// Last is the range's last id.
func (r HostIDs) Last() int { return r.First + r.Count - 1 }

func (r HostIDs) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last()) }

func (r HostIDs) contains(id int) bool { return id >= r.First && id <= r.Last() }

// ParseHostIDs parses FIRST:COUNT (e.g. "2000000000:65536").
func ParseHostIDs(s string) (HostIDs, error) {
	first, count, ok := strings.Cut(s, ":")
	f, err1 := strconv.Atoi(first)
	c, err2 := strconv.Atoi(count)
	if !ok || err1 != nil || err2 != nil {
		return HostIDs{}, fmt.Errorf("host id range %q: want FIRST:COUNT, e.g. %d:%d", s,
			DefaultHostIDs.First, DefaultHostIDs.Count)
	}
	return HostIDs{First: f, Count: c}, nil
}

// accountFile is an account database: passwd or group lines
// (name:x:ID:…), or with ranges, subuid or subgid lines (name:FIRST:COUNT).
type accountFile struct {
	path   string
	ranges bool
}

// accountFiles are the account databases a range must not overlap: users,
// groups, and the subordinate ids delegated to users' own containers.
var accountFiles = []accountFile{
	{"/etc/passwd", false}, {"/etc/group", false}, {"/etc/subuid", true}, {"/etc/subgid", true},
}

// check refuses a range that includes root, the server's own user, ids the
// kernel reserves, or any id an account file names.
func (r HostIDs) check(files []accountFile) error {
	switch {
	case r.Count < 1 || r.First < 1:
		return fmt.Errorf("host id range %s: want a first id above 0 and a count above 0", r)
	case r.Last() >= math.MaxUint32 || r.Last() < r.First:
		return fmt.Errorf("host id range %s: ids must stay below %d", r, uint32(math.MaxUint32))
	case r.contains(os.Geteuid()) || r.contains(os.Getegid()):
		return fmt.Errorf("host id range %s includes the server's own user or group", r)
	case r.contains(65534):
		return fmt.Errorf("host id range %s includes 65534, the kernel's overflow id (nobody)", r)
	}
	for _, f := range files {
		if err := r.checkFile(f); err != nil {
			return err
		}
	}
	for _, m := range []string{"/proc/self/uid_map", "/proc/self/gid_map"} {
		if err := r.checkMapped(m); err != nil {
			return err
		}
	}
	return nil
}

// checkMapped refuses a range this process cannot switch to: in a user
// namespace (a container), only the ids its map names exist.
func (r HostIDs) checkMapped(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("checking host id range against %s: %w", file, err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		first, err1 := strconv.Atoi(f[0])
		count, err2 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil && first <= r.First && r.Last() <= first+count-1 {
			return nil
		}
	}
	return fmt.Errorf("host id range %s is not mapped in this user namespace (%s): choose a range "+
		"it maps (kiln up --sandbox-host-ids FIRST:COUNT)", r, file)
}

func (r HostIDs) checkFile(file accountFile) error {
	f, err := os.Open(file.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking host id range against %s: %w", file.path, err)
	}
	defer f.Close()
	name, lo, hi, err := firstOverlap(f, r, file.ranges)
	if err != nil {
		return fmt.Errorf("checking host id range against %s: %w", file.path, err)
	}
	if name != "" {
		return fmt.Errorf("host id range %s overlaps %s entry %q (ids %d-%d): steps must never run as "+
			"an id an account uses; choose another range (kiln up --sandbox-host-ids FIRST:COUNT)", r, file.path, name, lo, hi)
	}
	return nil
}

// firstOverlap scans an account file for an id inside r.
func firstOverlap(rd io.Reader, r HostIDs, ranges bool) (string, int, int, error) {
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if strings.HasPrefix(f[0], "#") || len(f) < 3 {
			continue
		}
		lo, hi, ok := idsOf(f, ranges)
		if ok && lo <= r.Last() && hi >= r.First {
			return f[0], lo, hi, nil
		}
	}
	return "", 0, 0, sc.Err()
}

func idsOf(f []string, ranges bool) (int, int, bool) {
	if ranges {
		first, err1 := strconv.Atoi(f[1])
		count, err2 := strconv.Atoi(f[2])
		return first, first + count - 1, err1 == nil && err2 == nil && count > 0
	}
	id, err := strconv.Atoi(f[2])
	return id, id, err == nil
}

// idPool hands out the ids of a range, one per lease. An id is also locked
// across processes (another Kiln on this host, `kiln run` as root) by
// binding an abstract unix socket named after it: the kernel releases the
// name when the process dies, so a crash leaks nothing.
type idPool struct {
	ids  HostIDs
	mu   sync.Mutex
	next int         // offset of the next id to try
	held map[int]int // id -> descriptor of its lock socket
}

func newIDPool(ids HostIDs) *idPool {
	return &idPool{ids: ids, held: map[int]int{}}
}

// take leases the next free id, round robin, so that an id returns to use
// as late as possible.
func (p *idPool) take() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.ids.Count {
		id := p.ids.First + p.next
		p.next = (p.next + 1) % p.ids.Count
		if _, busy := p.held[id]; busy {
			continue
		}
		fd, err := lockID(id)
		if err != nil {
			return 0, err
		}
		if fd >= 0 {
			p.held[id] = fd
			return id, nil
		}
	}
	return 0, fmt.Errorf("all %d sandbox host ids (%s) are in use: widen the range "+
		"(kiln up --sandbox-host-ids) or run fewer builds at once", p.ids.Count, p.ids)
}

// put returns an id to the pool.
func (p *idPool) put(id int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fd, ok := p.held[id]; ok {
		_ = unix.Close(fd)
		delete(p.held, id)
	}
}

// lockID binds the abstract socket of id; it returns -1 when another
// process holds it.
func lockID(id int) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("locking sandbox host id: %w", err)
	}
	err = unix.Bind(fd, &unix.SockaddrUnix{Name: "@" + lockName(id)})
	if err == nil {
		return fd, nil
	}
	_ = unix.Close(fd)
	if errors.Is(err, unix.EADDRINUSE) {
		return -1, nil
	}
	return -1, fmt.Errorf("locking sandbox host id %d: %w", id, err)
}

func lockName(id int) string { return "kiln-sandbox-host-id-" + strconv.Itoa(id) }
