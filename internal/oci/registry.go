// Package oci is Kiln's artifact plumbing: an embedded OCI registry served
// from Kiln's own API server (distribution v3 in-process, plus the referrers
// API and Kiln token auth), and a client that pushes directories as
// reproducible OCI artifacts or images and pulls and unpacks them again.
// See README.md for the design.
package oci

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // registers the "filesystem" driver
)

// Config wires an embedded registry.
type Config struct {
	// Dir holds everything the registry stores (DATA_DIR/registry). Content
	// survives restarts.
	Dir string
	// Authorizer decides every request. Required.
	Authorizer Authorizer
	// Log receives the registry's own messages (at debug level). Defaults to
	// slog.Default().
	Log *slog.Logger
	// DisableDelete rejects manifest and blob deletion.
	DisableDelete bool
	// NoSync skips fsync: writes stay atomic but a power loss may lose or
	// truncate recent pushes. For tests, CI and throwaway factories; pushes
	// are several times faster where fsync is slow.
	NoSync bool
}

// Registry is the embedded OCI registry: an http.Handler for /v2/.
type Registry struct {
	dir       string
	app       *handlers.App
	next      http.Handler
	auth      Authorizer
	referrers *referrerIndex
	log       *slog.Logger
	// writes is held (read-locked) by every request that may store or
	// link content, and locked by DeleteNamespace.
	writes sync.RWMutex
}

// NewRegistry opens (or creates) the registry stored in cfg.Dir.
func NewRegistry(cfg Config) (*Registry, error) {
	if cfg.Authorizer == nil {
		return nil, errors.New("oci registry: an Authorizer is required")
	}
	if cfg.Dir == "" {
		return nil, errors.New("oci registry: a storage directory is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating registry directory: %w", err)
	}
	secret, err := httpSecret(cfg.Dir)
	if err != nil {
		return nil, err
	}
	routeLogrus(cfg.Log)
	app, err := newApp(distributionConfig(cfg, secret))
	if err != nil {
		return nil, err
	}
	r := &Registry{dir: cfg.Dir, app: app, next: app, auth: cfg.Authorizer, log: cfg.Log,
		referrers: &referrerIndex{dir: filepath.Join(cfg.Dir, "referrers"), sync: !cfg.NoSync}}
	return r, nil
}

// newApp turns distribution's construction panics into errors.
func newApp(cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("starting embedded registry: %v", p)
		}
	}()
	return handlers.NewApp(context.Background(), cfg), nil
}

// Close stops the registry's background work (the upload purger).
func (r *Registry) Close() error { return r.app.Shutdown() }

func distributionConfig(cfg Config, secret string) *configuration.Configuration {
	c := &configuration.Configuration{}
	c.Version = "0.1"
	driver := "filesystem"
	if cfg.NoSync {
		driver = noSyncDriverName
	}
	c.Storage = configuration.Storage{
		driver:   configuration.Parameters{"rootdirectory": cfg.Dir},
		"delete": configuration.Parameters{"enabled": !cfg.DisableDelete},
		// Kiln serves blobs itself; there is no storage backend to redirect to.
		"redirect": configuration.Parameters{"disable": true},
		// No blob descriptor cache: distribution's in-memory one keeps
		// "repository R links blob B" after R's files are deleted
		// (DeleteNamespace), which would serve B through a re-created R.
	}
	c.HTTP.Secret = secret
	// Location headers stay relative: Kiln may be reached under any name.
	c.HTTP.RelativeURLs = true
	c.Log.AccessLog.Disabled = true
	return c
}

// httpSecret returns the key distribution signs upload state with, kept in
// the registry directory so uploads in progress survive a restart.
func httpSecret(dir string) (string, error) {
	path := filepath.Join(dir, "http-secret")
	b, err := os.ReadFile(path)
	if err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading registry secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generating registry secret: %w", err)
	}
	secret := hex.EncodeToString(raw)
	if err := writeFileAtomic(path, []byte(secret), 0o600, true); err != nil {
		return "", fmt.Errorf("writing registry secret: %w", err)
	}
	return secret, nil
}

// writeFileAtomic writes data to path via a temporary file and rename,
// with fsync of the file and its directory when sync is set.
func writeFileAtomic(path string, data []byte, perm os.FileMode, sync bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if err := errors.Join(err, f.Close()); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil || !sync {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
