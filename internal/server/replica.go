package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/lease"
	"github.com/kilnbuild/kiln/internal/store"
)

// Replicas: several `kiln up` processes on one PostgreSQL database. The
// singleton controllers run on the replica holding the leader lease; every
// replica runs the builds whose claims it holds (see internal/lease and
// docs/scale.md).

// resolveDirs makes the data and shared directories absolute and creates
// the data directory, and checks the replica id.
func (c *Config) resolveDirs() error {
	for _, d := range []*string{&c.DataDir, &c.SharedDir} {
		abs, err := filepath.Abs(*d)
		if err != nil {
			return fmt.Errorf("directory %s: %w", *d, err)
		}
		*d = abs
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory %s: %w", c.DataDir, err)
	}
	if c.ReplicaID == "" {
		c.ReplicaID = defaultReplicaID(c.DataDir)
	}
	if c.LeaseTTL != 0 && c.LeaseTTL < time.Second {
		return fmt.Errorf("--lease-ttl %v: use at least 1s (the default is %v)", c.LeaseTTL, lease.DefaultTTL)
	}
	if strings.ContainsAny(c.ReplicaID, "# \t\n") || len(c.ReplicaID) > 100 {
		return fmt.Errorf("--replica-id %q: use at most 100 characters without '#' or spaces, e.g. kiln-1", c.ReplicaID)
	}
	return nil
}

// defaultReplicaID is the host name and a digest of the data directory:
// stable across restarts, distinct for replicas on one host.
func defaultReplicaID(dataDir string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "kiln"
	}
	sum := sha256.Sum256([]byte(dataDir))
	return strings.ReplaceAll(host, "#", "-") + "-" + hex.EncodeToString(sum[:4])
}

// sharedDirs are the shared directory's subdirectories.
var sharedDirs = []string{"keys", "signing", "logs", "evidence", "repos", "apt"}

// secureSharedDir creates the shared directory's subdirectories 0700
// (a no-op beyond secureDataDir when it is the data directory).
func secureSharedDir(dir string) error {
	for _, d := range sharedDirs {
		p := filepath.Join(dir, d)
		if err := os.MkdirAll(p, 0o700); err != nil {
			return fmt.Errorf("creating shared directory %s: %w", p, err)
		}
		if err := os.Chmod(p, 0o700); err != nil {
			return fmt.Errorf("making shared directory %s private: %w", p, err)
		}
	}
	return privateTree(filepath.Join(dir, "keys"))
}

// elect makes the manager's singletons run under the leader lease and
// gives builds their claims, when the store keeps leases.
func (f *Factory) elect(mgr *controller.Manager, st store.Store) error {
	ls, ok := st.(interface{ Leases() lease.HolderRenewer })
	if !ok {
		return nil
	}
	inc := make([]byte, 6)
	if _, err := rand.Read(inc); err != nil {
		return err
	}
	f.leases, f.holder = ls.Leases(), lease.HolderID(f.cfg.ReplicaID, hex.EncodeToString(inc))
	ttl := f.cfg.LeaseTTL
	if ttl == 0 {
		ttl = lease.DefaultTTL
	}
	f.claims = &lease.Session{Store: f.leases, Holder: f.holder, TTL: ttl, Log: f.cfg.Log}
	f.fatal = make(chan error, 1)
	mgr.SetLeader(&lease.Elector{Store: f.leases, Holder: f.holder, TTL: f.cfg.LeaseTTL, Log: f.cfg.Log}, func(cause error) {
		select {
		case f.fatal <- fmt.Errorf("replica %s lost the leader lease (%w): exiting so that no singleton controller of this process writes again; restart it", f.holder, cause):
		default:
		}
	})
	if p, ok := f.leases.(lease.Purger); ok {
		mgr.OnLead(func(ctx context.Context) { f.purgeClaims(ctx, p) })
	}
	f.cfg.Log.Info("replica", "id", f.cfg.ReplicaID, "holder", f.holder, "shared", f.cfg.SharedDir)
	return nil
}

// claimRetention is how long a build's ended claim is kept (the leader
// forgets older ones every claimRetention).
const claimRetention = time.Hour

// purgeClaims deletes ended build claims (one row per build otherwise)
// while this replica leads.
func (f *Factory) purgeClaims(ctx context.Context, p lease.Purger) {
	t := time.NewTicker(claimRetention)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := p.Purge(ctx, "build/", claimRetention); err != nil {
				f.cfg.Log.Warn("purging ended build claims", "err", err)
			} else if n > 0 {
				f.cfg.Log.Debug("purged ended build claims", "count", n)
			}
		}
	}
}

// Fatal receives an error when the factory must stop at once: it lost the
// leader lease while running (kiln up exits with it).
func (f *Factory) Fatal() <-chan error { return f.fatal }

// Leading reports whether this replica runs the singleton controllers.
func (f *Factory) Leading(ctx context.Context) bool {
	if f.leases == nil {
		return true
	}
	l, err := f.leases.Get(ctx, lease.LeaderLease)
	return err == nil && l.Alive && l.Holder == f.holder
}
