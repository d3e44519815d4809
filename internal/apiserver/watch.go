package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
)

// watchEvent is one line of a watch stream.
type watchEvent struct {
	Type   string `json:"type"`
	Object any    `json:"object"`
}

// watch streams events as newline-delimited JSON. Without a resourceVersion
// (or with "0") it first sends the current objects as ADDED, like Kubernetes.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, ri requestInfo, dec auth.Decision) {
	ctx, cancel := watchContext(r)
	defer cancel()
	opts, err := listParams(r, ri)
	if err == nil && ri.Name != "" {
		opts.FieldSelector = joinSelectors(opts.FieldSelector, "metadata.name="+ri.Name)
	}
	var keep func(v1alpha1.Object) bool
	if err == nil {
		keep, err = s.scope(ctx, ri, dec, &opts)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ws := &watchStream{s: s, w: w, ri: ri, keep: keep, table: wantsTable(r)}
	since, initial, err := s.watchStart(ctx, r, ri, opts)
	if err != nil && !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		s.writeError(w, r, err)
		return
	}
	ws.begin()
	if err != nil {
		ws.send("ERROR", statusOf(err))
		return
	}
	for _, o := range initial {
		ws.sendObject("ADDED", o)
	}
	ws.flush()
	s.pump(ctx, ws, ri, opts, since)
}

func joinSelectors(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func watchContext(r *http.Request) (context.Context, context.CancelFunc) {
	if t, err := strconv.Atoi(r.URL.Query().Get("timeoutSeconds")); err == nil && t > 0 {
		return context.WithTimeout(r.Context(), time.Duration(t)*time.Second)
	}
	return context.WithCancel(r.Context())
}

// watchStart resolves where the watch begins: the given resourceVersion, or
// a fresh list whose items are sent first.
func (s *Server) watchStart(ctx context.Context, r *http.Request, ri requestInfo, opts registry.ListOptions) (int64, []v1alpha1.Object, error) {
	rv := r.URL.Query().Get("resourceVersion")
	if rv != "" && rv != "0" {
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil {
			return 0, nil, badRequest("resourceVersion " + strconv.Quote(rv) + " is not a number")
		}
		return n, nil, nil
	}
	var all []v1alpha1.Object
	opts.Limit, opts.Continue = 1000, ""
	var since int64
	for {
		res, err := s.reg.List(ctx, ri.Kind, opts)
		if err != nil {
			return 0, nil, err
		}
		if since == 0 {
			since = res.ResourceVersion
		}
		all = append(all, res.Items...)
		if res.Continue == "" {
			return since, all, nil
		}
		opts.Continue = res.Continue
	}
}

// pump relays store events until the client leaves or the watch ends.
func (s *Server) pump(ctx context.Context, ws *watchStream, ri requestInfo, opts registry.ListOptions, since int64) {
	wt, err := s.reg.Watch(ctx, ri.Kind, opts, since)
	if err != nil {
		ws.send("ERROR", statusOf(err))
		return
	}
	defer wt.Stop()
	for {
		select {
		case ev, ok := <-wt.Events():
			if !ok {
				if err := wt.Err(); err != nil && ctx.Err() == nil {
					ws.send("ERROR", statusOf(watchErr(err)))
				}
				return
			}
			obj, _, err := s.reg.Decode(ev.Object)
			if err != nil {
				s.log.Error("decoding watch event", "err", err)
				continue
			}
			ws.sendObject(string(ev.Type), obj)
			ws.flush()
		case <-ctx.Done():
			return
		}
	}
}

func watchErr(err error) error {
	if errors.Is(err, store.ErrExpired) {
		return apierrors.NewResourceExpired(err.Error())
	}
	return err
}

type watchStream struct {
	s       *Server
	w       http.ResponseWriter
	ri      requestInfo
	keep    func(v1alpha1.Object) bool
	table   bool
	started bool
	enc     *json.Encoder
}

func (ws *watchStream) begin() {
	ws.w.Header().Set("Content-Type", "application/json")
	ws.w.Header().Set("Transfer-Encoding", "chunked")
	ws.w.WriteHeader(http.StatusOK)
	ws.enc = json.NewEncoder(ws.w)
	ws.flush()
}

func (ws *watchStream) sendObject(typ string, o v1alpha1.Object) {
	if !ws.keep(o) {
		return
	}
	if ws.table {
		ws.send(typ, ws.s.table(ws.ri.Kind, []v1alpha1.Object{o}, "", o.GetResourceVersion(), !ws.started))
		ws.started = true
		return
	}
	ws.send(typ, o)
}

func (ws *watchStream) send(typ string, obj any) {
	_ = ws.enc.Encode(watchEvent{Type: typ, Object: obj})
}

func (ws *watchStream) flush() {
	if f, ok := ws.w.(http.Flusher); ok {
		f.Flush()
	}
}
