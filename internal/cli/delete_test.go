package cli

import (
	"strings"
	"testing"
)

func TestDeleteByName(t *testing.T) {
	srv := seeded(t)
	r := kiln(t, srv, "", "delete", "comp", "web", "api", "-n", "a").must(t)
	if r.out != "component.kiln.dev \"web\" deleted\ncomponent.kiln.dev \"api\" deleted\n" {
		t.Fatalf("printed %q", r.out)
	}
	if srv.Object("components", "a", "web") != nil {
		t.Fatal("web still exists")
	}
	r = kiln(t, srv, "", "delete", "comp", "web", "-n", "a")
	if r.code == nil || r.code.Error() != `Error from server (NotFound): components.kiln.dev "web" not found` {
		t.Fatalf("missing: %v", r.code)
	}
	kiln(t, srv, "", "delete", "comp", "web", "-n", "a", "--ignore-not-found").must(t)
}

func TestDeleteSelectorAndSlashForm(t *testing.T) {
	srv := seeded(t)
	r := kiln(t, srv, "", "delete", "comp", "-A", "-l", "x=y")
	if r.code == nil || !strings.Contains(r.code.Error(), "unknown shorthand flag: 'A'") {
		t.Fatalf("-A is not a delete flag: %v", r.code)
	}
	r = kiln(t, srv, "", "delete", "comp", "-n", "a")
	if r.code == nil || !strings.Contains(r.code.Error(), "-l SELECTOR or --all") {
		t.Fatalf("no names: %v", r.code)
	}
	kiln(t, srv, "", "delete", "comp", "-n", "a", "--all").must(t)
	if srv.Object("components", "a", "web") != nil || srv.Object("components", "b", "blog") == nil {
		t.Fatal("--all deleted the wrong objects")
	}
	r = kiln(t, srv, "", "delete", "applications/shop", "components/blog", "-n", "a")
	if r.out != "application.kiln.dev \"shop\" deleted\n" || r.code == nil {
		t.Fatalf("slash form: out %q err %v", r.out, r.code)
	}
}

func TestDeleteFromFileReverseOrderAndWait(t *testing.T) {
	dir := isolate(t)
	srv := newServer(t)
	f := writeFile(t, dir, "shop.yaml", shopYAML)
	kiln(t, srv, "", "apply", "-f", f, "-n", "team-a").must(t)
	srv.Lock()
	srv.DeleteDelay = 3 // objects linger for a few GETs, like finalizers
	srv.Unlock()
	r := kiln(t, srv, "", "delete", "-f", f, "-n", "team-a", "--wait").must(t)
	want := "component.kiln.dev \"web\" deleted\napplication.kiln.dev \"shop\" deleted\nsecret \"creds\" deleted\nnamespace \"team-a\" deleted\n"
	if r.out != want {
		t.Fatalf("printed:\n%s\nwant:\n%s", r.out, want)
	}
	if srv.Object("components", "team-a", "web") != nil || srv.Object("namespaces", "", "team-a") != nil {
		t.Fatal("--wait returned before the objects were gone")
	}
	if r.err != "" {
		t.Errorf("a spinner was drawn on a non-terminal: %q", r.err)
	}
}

func TestDeleteWaitTimeout(t *testing.T) {
	srv := seeded(t)
	srv.Lock()
	srv.DeleteDelay = 1 << 20
	srv.Unlock()
	r := kiln(t, srv, "", "delete", "comp", "web", "-n", "a", "--wait", "--timeout", "30ms")
	if r.code == nil || !strings.Contains(r.code.Error(), "still being deleted") || !strings.Contains(r.code.Error(), "kiln describe components web") {
		t.Fatalf("err = %v", r.code)
	}
}
