package kubeexec

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/kilnbuild/kiln/internal/oci"
)

// BusyboxRoot writes a root filesystem of the host's static busybox into
// dir: /bin/busybox, a link per applet in /bin, an empty /tmp.
func BusyboxRoot(dir string) error {
	bin, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("the helper image needs a static busybox on this host (apt-get install busybox-static), or give one by digest: %w", err)
	}
	if err := checkStatic(bin); err != nil {
		return err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	applets, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, d := range []string{"bin", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	for _, a := range bytes.Fields(applets) {
		if string(a) != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(dir, "bin", string(a))); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkStatic refuses a dynamically linked busybox (it would not run in
// an image without its libraries).
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: install busybox-static", path)
		}
	}
	return nil
}

// PushHelper pushes an image of the host's static busybox to repo and
// returns its reference by digest (the Runner's HelperImage).
func PushHelper(ctx context.Context, repo string, remote oci.Remote) (string, error) {
	dir, err := os.MkdirTemp("", "kiln-helper-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	if err := BusyboxRoot(root); err != nil {
		return "", err
	}
	spec := oci.ImageSpec{Layers: []string{root}, Config: oci.ImageConfig{Env: []string{"PATH=/bin"}}}
	desc, err := oci.PushImage(ctx, repo, spec, oci.PushOptions{Remote: remote, TempDir: dir})
	if err != nil {
		return "", fmt.Errorf("pushing the kubernetes helper image: %w", err)
	}
	return repo + "@" + desc.Digest, nil
}
