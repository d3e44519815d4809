package storetest

import (
	"errors"
	"testing"

	"github.com/kilnbuild/kiln/internal/store"
)

func testCreateGet(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if rv := mustRV(t, s); rv != 0 {
		t.Fatalf("fresh store at version %d, want 0", rv)
	}
	in := obj("Component", "team-a", "web", "app=shop", "tier=front")
	in.Fields = map[string]string{"spec.application": "shop"}
	in.OwnerUIDs = []string{"owner-1", "owner-2"}
	in.Data = []byte("{\"spec\":  {\"x\": [1, 2]},\n \"z\": null}")
	got := mustCreate(t, s, in)
	if got.UID == "" || got.ResourceVersion <= 0 {
		t.Fatalf("Create returned uid=%q rv=%d; want a UID and a positive version", got.UID, got.ResourceVersion)
	}
	want := *in
	want.UID, want.ResourceVersion = got.UID, got.ResourceVersion
	sameObject(t, "Create result", got, &want)
	read, err := s.Get(ctx, in.Key())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	sameObject(t, "Get", read, &want)
	if rv := mustRV(t, s); rv != got.ResourceVersion {
		t.Fatalf("CurrentRV = %d, want %d", rv, got.ResourceVersion)
	}
	_, err = s.Get(ctx, store.Key{Kind: "Component", Namespace: "team-a", Name: "nope"})
	wantErr(t, "Get missing", err, store.ErrNotFound)
	_, err = s.Get(ctx, store.Key{Kind: "Other", Namespace: "team-a", Name: "web"})
	wantErr(t, "Get other kind", err, store.ErrNotFound)
}

func testCreateKeepsUID(t *testing.T, s store.Store) {
	in := obj("Build", "ns", "b1")
	in.UID = "my-uid"
	got := mustCreate(t, s, in)
	if got.UID != "my-uid" {
		t.Fatalf("UID = %q, want my-uid", got.UID)
	}
	other := mustCreate(t, s, obj("Build", "ns", "b2"))
	if other.UID == "" || other.UID == got.UID {
		t.Fatalf("generated UID %q not unique", other.UID)
	}
}

func testCreateAlreadyExists(t *testing.T, s store.Store) {
	first := mustCreate(t, s, obj("Build", "ns", "b1", "a=1"))
	_, err := s.Create(ctxT(t), obj("Build", "ns", "b1", "a=2"))
	wantErr(t, "second Create", err, store.ErrAlreadyExists)
	if rv := mustRV(t, s); rv != first.ResourceVersion {
		t.Fatalf("failed Create moved CurrentRV to %d, want %d", rv, first.ResourceVersion)
	}
	got, err := s.Get(ctxT(t), first.Key())
	if err != nil || got.Labels["a"] != "1" {
		t.Fatalf("failed Create changed the object: %+v, %v", got, err)
	}
}

func testInvalidInput(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	_, err := s.Create(ctx, nil)
	wantErr(t, "Create(nil)", err, store.ErrInvalid)
	_, err = s.Create(ctx, &store.Object{Kind: "Build", Namespace: "ns"})
	wantErr(t, "Create without name", err, store.ErrInvalid)
	_, err = s.Create(ctx, &store.Object{Name: "x"})
	wantErr(t, "Create without kind", err, store.ErrInvalid)
	_, err = s.Create(ctx, &store.Object{Kind: "Build", Name: "bad\x00name"})
	wantErr(t, "Create with NUL", err, store.ErrInvalid)
	_, err = s.Update(ctx, nil)
	wantErr(t, "Update(nil)", err, store.ErrInvalid)
	_, err = s.Delete(ctx, store.Key{Kind: "Build"}, 0)
	wantErr(t, "Delete without name", err, store.ErrInvalid)
	_, err = s.Batch(ctx, []store.Op{{Type: "explode", Object: obj("Build", "ns", "x")}})
	wantErr(t, "Batch with unknown op", err, store.ErrInvalid)
	_, err = s.Batch(ctx, []store.Op{{Type: store.OpCreate}})
	wantErr(t, "Batch with nil object", err, store.ErrInvalid)
	_, err = s.List(ctx, store.ListOptions{})
	wantErr(t, "List without kind", err, store.ErrInvalid)
	_, err = s.List(ctx, store.ListOptions{Filter: store.Filter{Kind: "Build"}, Continue: "%%%"})
	wantErr(t, "List with bad continue", err, store.ErrInvalid)
	bad := store.Filter{Kind: "Build", Labels: []store.Requirement{req("a", "~", "x")}}
	_, err = s.List(ctx, store.ListOptions{Filter: bad})
	wantErr(t, "List with unknown operator", err, store.ErrInvalid)
	_, err = s.Count(ctx, store.Filter{Kind: "Build", Labels: []store.Requirement{req("a", store.OpEquals)}})
	wantErr(t, "Count with = and no value", err, store.ErrInvalid)
	_, err = s.Watch(ctx, store.WatchOptions{Filter: bad})
	wantErr(t, "Watch with unknown operator", err, store.ErrInvalid)
	if rv := mustRV(t, s); rv != 0 {
		t.Fatalf("invalid requests moved CurrentRV to %d", rv)
	}
}

func testClusterScoped(t *testing.T, s store.Store) {
	a := mustCreate(t, s, obj("Namespace", "", "team-a"))
	b := mustCreate(t, s, obj("Namespace", "x", "team-a"))
	got, err := s.Get(ctxT(t), store.Key{Kind: "Namespace", Name: "team-a"})
	if err != nil {
		t.Fatalf("Get cluster-scoped: %v", err)
	}
	if got.UID != a.UID || got.UID == b.UID {
		t.Fatalf("cluster-scoped and namespaced objects with one name are mixed up")
	}
}

func testUpdate(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	created := mustCreate(t, s, obj("Build", "ns", "b1", "phase=pending"))
	in := obj("Build", "ns", "b1", "phase=running")
	in.ResourceVersion = created.ResourceVersion
	in.Fields = map[string]string{"status.phase": "Running"}
	updated, err := s.Update(ctx, in)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if updated.ResourceVersion <= created.ResourceVersion || updated.UID != created.UID {
		t.Fatalf("Update: rv %d -> %d, uid %s -> %s", created.ResourceVersion, updated.ResourceVersion,
			created.UID, updated.UID)
	}
	got, _ := s.Get(ctx, in.Key())
	sameObject(t, "Get after Update", got, updated)
	old := store.Filter{Kind: "Build", Labels: []store.Requirement{req("phase", store.OpEquals, "pending")}}
	if n, err := s.Count(ctx, old); err != nil || n != 0 {
		t.Fatalf("old label still selects the object: count=%d err=%v", n, err)
	}
	unconditional := obj("Build", "ns", "b1", "phase=done")
	again, err := s.Update(ctx, unconditional)
	if err != nil || again.ResourceVersion <= updated.ResourceVersion || again.Fields != nil {
		t.Fatalf("unconditional Update: %+v, %v", again, err)
	}
}

func testUpdateErrors(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	_, err := s.Update(ctx, obj("Build", "ns", "missing"))
	wantErr(t, "Update missing", err, store.ErrNotFound)
	created := mustCreate(t, s, obj("Build", "ns", "b1"))
	if _, err := s.Update(ctx, obj("Build", "ns", "b1")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	stale := obj("Build", "ns", "b1", "x=y")
	stale.ResourceVersion = created.ResourceVersion
	_, err = s.Update(ctx, stale)
	wantErr(t, "Update with stale version", err, store.ErrConflict)
	got, _ := s.Get(ctx, created.Key())
	if got.Labels["x"] == "y" {
		t.Fatal("conflicting Update was applied")
	}
	wrongUID := obj("Build", "ns", "b1")
	wrongUID.UID = "someone-else"
	_, err = s.Update(ctx, wrongUID)
	wantErr(t, "Update with another UID", err, store.ErrConflict)
}

func testDelete(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	in := obj("Build", "ns", "b1", "a=1")
	in.OwnerUIDs = []string{"o1"}
	created := mustCreate(t, s, in)
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: created.ResourceVersion})
	gone, err := s.Delete(ctx, created.Key(), created.ResourceVersion)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if gone.ResourceVersion <= created.ResourceVersion || gone.UID != created.UID ||
		gone.Labels["a"] != "1" || string(gone.Data) != string(created.Data) {
		t.Fatalf("Delete returned %+v; want the last state with a new version", gone)
	}
	if rv := mustRV(t, s); rv != gone.ResourceVersion {
		t.Fatalf("CurrentRV = %d, want the deletion's %d", rv, gone.ResourceVersion)
	}
	ev := next(t, w)
	if ev.Type != store.Deleted {
		t.Fatalf("event type %s, want DELETED", ev.Type)
	}
	sameObject(t, "DELETED event", ev.Object, gone)
	_, err = s.Get(ctx, created.Key())
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
	if n, _ := s.Count(ctx, store.Filter{Kind: "Build", OwnerUID: "o1"}); n != 0 {
		t.Fatalf("deleted object still indexed by owner (count %d)", n)
	}
	again := mustCreate(t, s, obj("Build", "ns", "b1"))
	if again.UID == created.UID {
		t.Fatal("re-created object kept the old UID")
	}
}

func testDeleteErrors(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	_, err := s.Delete(ctx, store.Key{Kind: "Build", Namespace: "ns", Name: "missing"}, 0)
	wantErr(t, "Delete missing", err, store.ErrNotFound)
	created := mustCreate(t, s, obj("Build", "ns", "b1"))
	_, err = s.Delete(ctx, created.Key(), created.ResourceVersion+100)
	wantErr(t, "Delete with wrong precondition", err, store.ErrConflict)
	if _, err := s.Get(ctx, created.Key()); err != nil {
		t.Fatalf("object gone after failed Delete: %v", err)
	}
	if _, err := s.Delete(ctx, created.Key(), 0); err != nil {
		t.Fatalf("unconditional Delete: %v", err)
	}
}

func testBatch(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, obj("Build", "ns", "old"))
	res, err := s.Batch(ctx, []store.Op{
		{Type: store.OpCreate, Object: obj("Build", "ns", "b1")},
		{Type: store.OpUpdate, Object: obj("Build", "ns", "b1", "step=2")},
		{Type: store.OpDelete, Object: &store.Object{Kind: "Build", Namespace: "ns", Name: "old"}},
		{Type: store.OpCreate, Object: obj("Build", "ns", "b2")},
	})
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	if len(res) != 4 {
		t.Fatalf("Batch returned %d objects, want 4", len(res))
	}
	for i := 1; i < len(res); i++ {
		if res[i].ResourceVersion <= res[i-1].ResourceVersion {
			t.Fatalf("batch versions not increasing: %d then %d", res[i-1].ResourceVersion, res[i].ResourceVersion)
		}
	}
	if res[1].UID != res[0].UID || res[1].Labels["step"] != "2" || res[2].Name != "old" {
		t.Fatalf("batch results wrong: %+v %+v %+v", res[0], res[1], res[2])
	}
	if rv := mustRV(t, s); rv != res[3].ResourceVersion {
		t.Fatalf("CurrentRV = %d, want %d", rv, res[3].ResourceVersion)
	}
	if res, err := s.Batch(ctx, nil); err != nil || len(res) != 0 {
		t.Fatalf("empty Batch: %v, %v", res, err)
	}
}

func testBatchRollback(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	existing := mustCreate(t, s, obj("Build", "ns", "exists"))
	before := mustRV(t, s)
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: before})
	ops := []store.Op{
		{Type: store.OpCreate, Object: obj("Build", "ns", "new")},
		{Type: store.OpUpdate, Object: obj("Build", "ns", "exists", "touched=yes")},
		{Type: store.OpCreate, Object: obj("Build", "ns", "exists")},
		{Type: store.OpCreate, Object: obj("Build", "ns", "never")},
	}
	_, err := s.Batch(ctx, ops)
	var oe *store.OpError
	if !errors.As(err, &oe) || oe.Index != 2 || !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("Batch error = %v; want *store.OpError at index 2 wrapping ErrAlreadyExists", err)
	}
	if oe.Op.Object.Name != "exists" || oe.Error() == "" {
		t.Fatalf("OpError names op %+v", oe.Op)
	}
	if rv := mustRV(t, s); rv != before {
		t.Fatalf("failed Batch moved CurrentRV from %d to %d", before, rv)
	}
	_, err = s.Get(ctx, store.Key{Kind: "Build", Namespace: "ns", Name: "new"})
	wantErr(t, "Get object of rolled-back batch", err, store.ErrNotFound)
	got, _ := s.Get(ctx, existing.Key())
	sameObject(t, "object updated by rolled-back batch", got, existing)
	after := mustCreate(t, s, obj("Build", "ns", "after"))
	ev := next(t, w)
	if ev.Object.Name != "after" || ev.Object.ResourceVersion != after.ResourceVersion {
		t.Fatalf("first event after a failed batch is %s %s; want ADDED after", ev.Type, ev.Object.Name)
	}
	_, err = s.Batch(ctx, []store.Op{{Type: store.OpDelete, Object: &store.Object{Kind: "Build", Name: "zz"}}})
	if !errors.As(err, &oe) || oe.Index != 0 || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("single-op Batch error = %v; want *store.OpError wrapping ErrNotFound", err)
	}
}
