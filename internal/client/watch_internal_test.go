package client

import (
	"testing"
)

func TestBookmarkMovesResourceVersion(t *testing.T) {
	w := &watcher{known: map[string]Object{}, rv: "5"}
	yielded := 0
	yield := func(Event, error) bool { yielded++; return true }
	raw := rawEvent{Type: Bookmark, Object: []byte(`{"kind":"Component","metadata":{"resourceVersion":"42"}}`)}
	if _, done := w.handle(raw, yield); done {
		t.Fatal("a bookmark ended the stream")
	}
	if w.rv != "42" || yielded != 0 {
		t.Fatalf("rv = %s, yielded = %d; want 42, 0", w.rv, yielded)
	}
	raw = rawEvent{Type: Added, Object: []byte(`{"kind":"Component","metadata":{"name":"a","namespace":"n","resourceVersion":"43"}}`)}
	w.handle(raw, yield)
	if w.rv != "43" || yielded != 1 || w.known["n/a"] == nil {
		t.Fatalf("after ADDED: rv %s, yielded %d, known %v", w.rv, yielded, w.known)
	}
}

func TestErrorEventEndsStream(t *testing.T) {
	w := &watcher{known: map[string]Object{}}
	var got error
	yield := func(_ Event, err error) bool { got = err; return true }
	raw := rawEvent{Type: Error, Object: []byte(`{"kind":"Status","code":500,"reason":"InternalError","message":"boom"}`)}
	res, done := w.handle(raw, yield)
	if !done || res != streamStop || got == nil {
		t.Fatalf("res %v done %v err %v", res, done, got)
	}
	raw = rawEvent{Type: Error, Object: []byte(`{"kind":"Status","code":410,"reason":"Expired","message":"too old"}`)}
	if res, _ := w.handle(raw, yield); res != streamGone {
		t.Fatalf("410 event: res %v, want streamGone", res)
	}
}
