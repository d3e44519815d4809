package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHostIDsCheckAccounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) accountFile {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return accountFile{path: p, ranges: strings.HasPrefix(name, "sub")}
	}
	passwd := write("passwd", "root:x:0:0::/root:/bin/sh\n# comment\nalice:x:3000000005:100::/home/alice:/bin/sh\n")
	group := write("group", "root:x:0:\nbuilders:x:3000000100:\n")
	subuid := write("subuid", "alice:3100000000:65536\n")
	free := HostIDs{First: 3000000200, Count: 100}
	if err := free.check([]accountFile{passwd, group, subuid, {path: filepath.Join(dir, "absent")}}); err != nil {
		t.Fatalf("a range no account uses: %v", err)
	}
	for _, c := range []struct {
		ids  HostIDs
		file accountFile
		name string
	}{
		{HostIDs{First: 3000000000, Count: 10}, passwd, "alice"},
		{HostIDs{First: 3000000100, Count: 1}, group, "builders"},
		{HostIDs{First: 3099999990, Count: 20}, subuid, "alice"},
		{HostIDs{First: 3100065535, Count: 5}, subuid, "alice"},
	} {
		err := c.ids.check([]accountFile{c.file})
		if err == nil || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), "--sandbox-host-ids") {
			t.Errorf("range %s against %s: want an error naming %s and the flag, got %v", c.ids, c.file.path, c.name, err)
		}
	}
}

func TestIDPool(t *testing.T) {
	t.Parallel()
	ids := HostIDs{First: 3000000000 + int(os.Getpid()%1000)*10, Count: 2}
	a, b := newIDPool(ids), newIDPool(ids)
	x, err := a.take()
	if err != nil {
		t.Fatal(err)
	}
	// b stands for another process: x is locked for it too.
	y, err := b.take()
	if err != nil || y == x {
		t.Fatalf("second pool took %d (%v), first holds %d", y, err, x)
	}
	if _, err := a.take(); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("exhausted range: want an error, got %v", err)
	}
	a.put(x)
	if z, err := b.take(); err != nil || z != x {
		t.Fatalf("after release, took %d (%v), want %d", z, err, x)
	}
	b.put(x)
	b.put(y)
}

func TestHostIDsMapped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := filepath.Join(dir, "uid_map")
	if err := os.WriteFile(m, []byte("         0     100000      65536\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (HostIDs{First: 1000, Count: 100}).checkMapped(m); err != nil {
		t.Fatalf("a mapped range: %v", err)
	}
	err := (HostIDs{First: 2000000000, Count: 10}).checkMapped(m)
	if err == nil || !strings.Contains(err.Error(), "not mapped") {
		t.Fatalf("a range outside the user namespace's map: want an error, got %v", err)
	}
}
