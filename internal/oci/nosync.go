package oci

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/google/uuid"
)

// noSyncDriverName is distribution's filesystem driver without fsync: every
// write is still atomic (temporary file + rename) but not durable across a
// power loss. Config.NoSync selects it (tests, CI, throwaway factories):
// pushes get several times faster on disks where fsync is slow.
const noSyncDriverName = "kiln-filesystem-nosync"

func init() { factory.Register(noSyncDriverName, noSyncFactory{}) }

type noSyncFactory struct{}

func (noSyncFactory) Create(_ context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
	d, err := filesystem.FromParameters(params)
	if err != nil {
		return nil, err
	}
	return &noSyncDriver{StorageDriver: d, root: fmt.Sprint(params["rootdirectory"])}, nil
}

// noSyncDriver overrides the two write paths of the filesystem driver.
type noSyncDriver struct {
	storagedriver.StorageDriver
	root string
}

func (d *noSyncDriver) fullPath(p string) (string, error) {
	if !storagedriver.PathRegexp.MatchString(p) {
		return "", storagedriver.InvalidPathError{Path: p, DriverName: noSyncDriverName}
	}
	return path.Join(d.root, p), nil
}

// PutContent writes a temporary file and renames it over p.
func (d *noSyncDriver) PutContent(ctx context.Context, p string, content []byte) error {
	full, err := d.fullPath(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o777); err != nil {
		return err
	}
	tmp := full + "." + uuid.NewString() + ".tmp"
	if err := os.WriteFile(tmp, content, 0o666); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, full); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}

// Writer behaves like the filesystem driver's, minus the fsync on commit.
func (d *noSyncDriver) Writer(ctx context.Context, p string, appendMode bool) (storagedriver.FileWriter, error) {
	full, err := d.fullPath(p)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o777); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	var size int64
	if appendMode {
		size, err = f.Seek(0, io.SeekEnd)
	} else {
		err = f.Truncate(0)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &noSyncWriter{f: f, bw: bufio.NewWriter(f), size: size}, nil
}

type noSyncWriter struct {
	f                 *os.File
	bw                *bufio.Writer
	size              int64
	closed, committed bool
}

func (w *noSyncWriter) Write(p []byte) (int, error) {
	if w.closed || w.committed {
		return 0, errors.New("writer already closed or committed")
	}
	n, err := w.bw.Write(p)
	w.size += int64(n)
	return n, err
}

func (w *noSyncWriter) Size() int64 { return w.size }

func (w *noSyncWriter) Close() error {
	if w.closed {
		return errors.New("already closed")
	}
	w.closed = true
	return errors.Join(w.bw.Flush(), w.f.Close())
}

func (w *noSyncWriter) Cancel(context.Context) error {
	if w.closed {
		return errors.New("already closed")
	}
	w.closed = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

func (w *noSyncWriter) Commit(context.Context) error {
	if w.closed || w.committed {
		return errors.New("writer already closed or committed")
	}
	w.committed = true
	return w.bw.Flush()
}
