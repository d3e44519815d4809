package pgtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNotInstalled means the PostgreSQL server binaries were not found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")

// Cluster is a throw-away PostgreSQL cluster owned by the test process.
type Cluster struct {
	// DSN points at the "postgres" database as superuser "kiln".
	DSN  string
	Dir  string
	Port int
	bin  string
	// asUser runs PostgreSQL commands as another user ("postgres" when the
	// tests run as root, which PostgreSQL refuses).
	asUser string
}

// StartCluster initialises and starts a cluster in a new temporary
// directory, listening on 127.0.0.1 at a free port with fsync off.
func StartCluster() (*Cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		c.asUser = "postgres"
	}
	if err := c.makeDir(); err != nil {
		return nil, err
	}
	if err := c.run("initdb", "-D", c.dataDir(), "-A", "trust", "-U", "kiln", "-E", "UTF8", "--no-sync"); err != nil {
		c.removeDir()
		return nil, err
	}
	var startErr error
	for range 3 { // the free port may be taken between probing and binding
		if startErr = c.start(); startErr == nil {
			return c, nil
		}
	}
	c.removeDir()
	return nil, startErr
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

func (c *Cluster) start() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
		port, c.Dir)
	err = c.run("pg_ctl", "-D", c.dataDir(), "-o", opts, "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "60", "start")
	if err != nil {
		return err
	}
	c.Port = port
	c.DSN = fmt.Sprintf("postgres://kiln@127.0.0.1:%d/postgres?sslmode=disable", port)
	return nil
}

// Stop shuts the cluster down immediately and deletes its files.
func (c *Cluster) Stop() {
	_ = c.run("pg_ctl", "-D", c.dataDir(), "-m", "immediate", "-w", "stop")
	c.removeDir()
}

func (c *Cluster) removeDir() { _ = os.RemoveAll(c.Dir) }

// makeDir creates the cluster directory, owned by the server's user.
func (c *Cluster) makeDir() error {
	dir, err := os.MkdirTemp("", "kiln-pgtest-")
	if err != nil {
		return fmt.Errorf("creating cluster directory: %w", err)
	}
	c.Dir = dir
	if c.asUser == "" {
		return nil
	}
	u, err := user.Lookup(c.asUser)
	if err != nil {
		c.removeDir()
		return fmt.Errorf("running as root needs the %q user: %w", c.asUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		c.removeDir()
		return fmt.Errorf("handing %s to %s: %w", dir, c.asUser, err)
	}
	return nil
}

// run executes a PostgreSQL binary, as c.asUser when set.
func (c *Cluster) run(name string, args ...string) error {
	path := filepath.Join(c.bin, name)
	cmd := exec.Command(path, args...)
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	}
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, out, c.logTail())
	}
	return nil
}

func (c *Cluster) logTail() string {
	b, err := os.ReadFile(filepath.Join(c.Dir, "log"))
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "server log:\n" + string(b)
}

// findBinaries returns the directory holding initdb, pg_ctl and postgres.
func findBinaries() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(versioned)))
	for _, d := range append(dirs, versioned...) {
		if hasAll(d, "initdb", "pg_ctl", "postgres") {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func hasAll(dir string, names ...string) bool {
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
