package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"maps"
	"net/http"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EventType says what happened to an object.
type EventType string

// Watch event types.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	Bookmark EventType = "BOOKMARK"
	Error    EventType = "ERROR"
)

// Event is one change seen by Watch. Object is the object after the change
// (its last state for Deleted).
type Event struct {
	Type   EventType
	Object Object
}

// WatchOptions says what to watch and from where.
type WatchOptions struct {
	ListOptions
	// Known are the objects the caller already has (usually the items of
	// the list whose resourceVersion is ListOptions.ResourceVersion). With
	// an empty ResourceVersion, Watch lists first and reports every
	// existing object not in Known as Added.
	Known []Object
	// AsTable asks the server to send each event's object as a one-row
	// metav1.Table (columns only in a stream's first event). Events made up
	// by a re-list after 410 Gone still carry plain objects.
	AsTable bool
}

// maxWatchFailures is how many consecutive connection failures a watch
// retries before giving up.
const maxWatchFailures = 8

// Watch streams changes to r's objects in ns (all namespaces when empty).
// It resumes from the last seen resourceVersion when the stream ends or the
// connection drops, and when the server answers 410 Gone (the version is
// too old) it lists again and reports the differences as synthetic events.
// Bookmarks are consumed. The sequence ends when ctx is done (without an
// error), when the caller stops ranging, or with a final error.
func (c *Client) Watch(ctx context.Context, r Resource, ns string, opts WatchOptions) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		w := &watcher{c: c, r: r, ns: ns, opts: opts.ListOptions, rv: opts.ResourceVersion, known: map[string]Object{}}
		if opts.AsTable {
			w.headers = http.Header{"Accept": {AcceptTable}}
		}
		for _, o := range opts.Known {
			w.known[objectKey(o)] = o
		}
		w.run(ctx, yield)
	}
}

type watcher struct {
	c        *Client
	r        Resource
	ns       string
	opts     ListOptions
	rv       string
	known    map[string]Object
	failures int
	headers  http.Header
}

func objectKey(o Object) string {
	m := MetaObject(o)
	return m.Namespace() + "/" + m.Name()
}

// MetaObject returns the object carrying o's metadata: o itself, or for a
// Table (a watch event with WatchOptions.AsTable) its first row's object.
func MetaObject(o Object) Object {
	if o.Kind() != "Table" {
		return o
	}
	rows := o.Slice("rows")
	if len(rows) == 0 {
		return Object{}
	}
	row, _ := rows[0].(map[string]any)
	obj, _ := row["object"].(map[string]any)
	return Object(obj)
}

func (w *watcher) run(ctx context.Context, yield func(Event, error) bool) {
	if w.rv == "" && !w.relist(ctx, yield) {
		return
	}
	for ctx.Err() == nil {
		body, err := w.c.stream(ctx, w.path(), w.headers)
		if err != nil {
			if isGone(err) {
				if !w.relist(ctx, yield) {
					return
				}
				continue
			}
			if !w.retry(ctx, err, yield) {
				return
			}
			continue
		}
		res := w.consume(ctx, body, yield)
		body.Close()
		switch res {
		case streamStop:
			return
		case streamGone:
			if !w.relist(ctx, yield) {
				return
			}
		case streamEnded:
			w.failures = 0
		case streamIdle:
			// A clean close without events (a server-side timeout): pause
			// briefly so a server closing at once is not hammered.
			if !sleep(ctx, w.c.WatchBackoff(0)) {
				return
			}
		case streamFailed:
			if !w.retry(ctx, errors.New("watch stream closed without events"), yield) {
				return
			}
		}
	}
}

func (w *watcher) path() string {
	q := w.opts.query()
	q.Set("watch", "true")
	q.Set("allowWatchBookmarks", "true")
	if w.rv != "" {
		q.Set("resourceVersion", w.rv)
	}
	return withQuery(w.r.Path(w.ns, ""), q)
}

// retry waits before the next attempt; it reports err and returns false
// when err is permanent or too many attempts failed in a row.
func (w *watcher) retry(ctx context.Context, err error, yield func(Event, error) bool) bool {
	if ctx.Err() != nil {
		return false
	}
	w.failures++
	if !retryable(err) || w.failures > maxWatchFailures {
		yield(Event{}, err)
		return false
	}
	d := w.c.WatchBackoff(w.failures)
	w.c.logf("watch %s: %v; retrying in %s from resourceVersion %q", w.r.GroupResource(), err, d, w.rv)
	return sleep(ctx, d)
}

// sleep waits for d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// relist lists the objects, reports what changed since the known state and
// moves the watch to the list's resourceVersion.
func (w *watcher) relist(ctx context.Context, yield func(Event, error) bool) bool {
	for {
		list, err := w.c.List(ctx, w.r, w.ns, w.opts)
		if err == nil {
			w.rv = list.ResourceVersion
			return w.diff(list.Items, yield)
		}
		if !w.retry(ctx, err, yield) {
			return false
		}
	}
}

func (w *watcher) diff(items []Object, yield func(Event, error) bool) bool {
	seen := make(map[string]bool, len(items))
	var events []Event
	for _, o := range items {
		k := objectKey(o)
		seen[k] = true
		old, ok := w.known[k]
		switch {
		case !ok:
			events = append(events, Event{Type: Added, Object: o})
		case MetaObject(old).ResourceVersion() != o.ResourceVersion():
			events = append(events, Event{Type: Modified, Object: o})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(w.known)) {
		if !seen[k] {
			events = append(events, Event{Type: Deleted, Object: w.known[k]})
		}
	}
	for _, ev := range events {
		w.track(ev)
		if !yield(ev, nil) {
			return false
		}
	}
	return true
}

func (w *watcher) track(ev Event) {
	if ev.Type == Deleted {
		delete(w.known, objectKey(ev.Object))
	} else {
		w.known[objectKey(ev.Object)] = ev.Object
	}
}

type streamResult int

const (
	streamEnded  streamResult = iota // the server closed a stream that delivered events
	streamIdle                       // the server closed a stream cleanly without events
	streamFailed                     // the stream broke before any event
	streamGone                       // 410: the resourceVersion is too old
	streamStop                       // the caller stopped, or a permanent error was reported
)

type rawEvent struct {
	Type   EventType       `json:"type"`
	Object json.RawMessage `json:"object"`
}

func (w *watcher) consume(ctx context.Context, body io.Reader, yield func(Event, error) bool) streamResult {
	dec := json.NewDecoder(body)
	got := false
	for {
		var raw rawEvent
		if err := dec.Decode(&raw); err != nil {
			if ctx.Err() != nil {
				return streamStop
			}
			switch {
			case got:
				return streamEnded
			case errors.Is(err, io.EOF):
				return streamIdle
			}
			return streamFailed
		}
		got = true
		if res, done := w.handle(raw, yield); done {
			return res
		}
	}
}

// handle processes one event; done means the stream must be left.
func (w *watcher) handle(raw rawEvent, yield func(Event, error) bool) (streamResult, bool) {
	if raw.Type == Error {
		err := newStatusError(http.StatusInternalServerError, raw.Object)
		if isGone(err) {
			return streamGone, true
		}
		yield(Event{}, err)
		return streamStop, true
	}
	obj, err := DecodeObject(raw.Object)
	if err != nil {
		yield(Event{}, errors.New("watch: undecodable event object: "+err.Error()))
		return streamStop, true
	}
	if rv := obj.ResourceVersion(); rv != "" {
		w.rv = rv
	}
	if raw.Type == Bookmark {
		return 0, false
	}
	ev := Event{Type: raw.Type, Object: obj}
	w.track(ev)
	if !yield(ev, nil) {
		return streamStop, true
	}
	return 0, false
}

func isGone(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	r := se.Reason()
	return se.Code() == http.StatusGone || r == metav1.StatusReasonGone || r == metav1.StatusReasonExpired
}

// retryable reports whether a failed request may succeed if tried again:
// transport errors and 5xx/429 answers.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *StatusError
	if !errors.As(err, &se) {
		return !errors.Is(err, ErrNoConfig)
	}
	return se.Code() >= 500 || se.Code() == http.StatusTooManyRequests
}
