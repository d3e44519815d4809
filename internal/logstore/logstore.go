// Package logstore keeps the logs of builds, integration test scenarios
// and release pipelines on the server's disk, in one layout:
//
//	DIR/<namespace>/Build/<build>.log
//	DIR/<namespace>/Snapshot/<snapshot>/<scenario>.log
//	DIR/<namespace>/Release/<release>.log
//
// Files are 0600 under 0700 directories; every attempt appends to the
// same file; a log that cannot be opened or written is an error naming
// the log, never output silently dropped. A namespace's logs are one
// directory, deleted with the namespace. Open moves logs of the earlier
// layouts (DIR/<ns>/<build>.log, DIR/tests/<ns>/…, DIR/releases/<ns>/…)
// into this one. The kind directories are capitalised: a namespace name
// (a DNS label) never is, so no path of one layout is read as the other's.
package logstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// The kinds with logs.
const (
	Build    = "Build"
	Snapshot = "Snapshot"
	Release  = "Release"
)

// Modes of what the store creates: the logs are the tenants' and the data
// directory is private.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// Key names one log: a Build's, a Release's, or the log of one scenario
// (Part) of a Snapshot's tests.
type Key struct {
	Kind      string
	Namespace string
	Name      string
	Part      string
}

func (k Key) String() string {
	s := fmt.Sprintf("%s %s/%s", k.Kind, k.Namespace, k.Name)
	if k.Part != "" {
		s += " (" + k.Part + ")"
	}
	return s
}

// Store is the logs under one directory.
type Store struct{ dir string }

// Open returns the store under dir, creating dir and moving logs of the
// earlier layouts into this one.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("creating the log directory: %w", err)
	}
	if err := migrate(dir); err != nil {
		return nil, fmt.Errorf("moving logs into the layout of this version (%s): %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

// Path is where k's log is kept. Names run to 253 characters and are
// fitted to file names; a Snapshot's part is reduced to one path element.
func (s *Store) Path(k Key) (string, error) {
	if err := k.check(); err != nil {
		return "", err
	}
	base := filepath.Join(s.dir, k.Namespace, k.Kind)
	if k.Kind == Snapshot {
		return filepath.Join(base, v1alpha1.FileName(k.Name, ""), v1alpha1.FileName(filepath.Base(k.Part), ".log")), nil
	}
	return filepath.Join(base, v1alpha1.FileName(k.Name, ".log")), nil
}

func (k Key) check() error {
	switch {
	case k.Kind != Build && k.Kind != Snapshot && k.Kind != Release:
		return fmt.Errorf("%s: only builds, snapshots and releases have logs", k)
	case !oneElement(k.Namespace) || !oneElement(k.Name):
		return fmt.Errorf("%s: the namespace and name must be object names", k)
	case k.Kind == Snapshot && k.Part == "":
		return fmt.Errorf("%s: a snapshot has one log per integration test scenario: name the scenario", k)
	}
	return nil
}

func oneElement(name string) bool {
	return name != "" && name != "." && name != ".." && filepath.Base(name) == name
}

// Append opens k's log for writing at its end, creating it.
func (s *Store) Append(k Key) (*Log, error) {
	p, err := s.Path(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", k, err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, fileMode)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", k, err)
	}
	return &Log{f: f, key: k}, nil
}

// Open opens k's log for reading; a log not written yet is an error
// satisfying errors.Is(err, fs.ErrNotExist).
func (s *Store) Open(k Key) (*os.File, error) {
	p, err := s.Path(k)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// PurgeNamespace deletes every log of namespace ns. It is idempotent.
func (s *Store) PurgeNamespace(_ context.Context, ns string) error {
	if !oneElement(ns) {
		return fmt.Errorf("deleting the logs of namespace %q: not a namespace name", ns)
	}
	if err := os.RemoveAll(filepath.Join(s.dir, ns)); err != nil {
		return fmt.Errorf("deleting the logs of namespace %s: %w", ns, err)
	}
	return nil
}

// Log is one log open for appending. It keeps the first write error:
// Err and Close report it, so output lost on the way is never a secret.
type Log struct {
	mu  sync.Mutex
	f   *os.File
	key Key
	err error
}

// Write appends p.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.f.Write(p)
	if err != nil && l.err == nil {
		l.err = fmt.Errorf("writing the log of %s: %w", l.key, err)
	}
	return n, err
}

// Err is the first write error, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close closes the file; it returns the first write error, else the
// error of closing it.
func (l *Log) Close() error {
	cerr := l.f.Close()
	if err := l.Err(); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("closing the log of %s: %w", l.key, cerr)
	}
	return nil
}
