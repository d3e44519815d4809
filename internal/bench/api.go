package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// APIOptions shape the workload.
type APIOptions struct {
	// Exe is the kiln binary to run as the server (default: this process).
	Exe string
	// DataDir is where the server keeps state (a temp dir when empty).
	DataDir string
	// Database is passed to `kiln up --database` (default SQLite).
	Database   string
	Objects    int // Components to create (default 100000)
	Namespaces int // spread across this many namespaces (default 100)
	Writers    int // concurrent writers (default 8)
	Samples    int // samples per latency measurement (default 500)
	// ClientGo adds the client-go measurement (ClientGoReport) after the
	// label-selector step.
	ClientGo bool
	// ServerArgs are more `kiln up` flags (e.g. --pprof-listen).
	ServerArgs []string
	Log        io.Writer
}

// APIReport is what RunAPI measured.
type APIReport struct {
	Backend          string  `json:"backend"`
	Objects          int     `json:"objects"`
	Namespaces       int     `json:"namespaces"`
	Writers          int     `json:"writers"`
	CreatesPerSec    float64 `json:"createsPerSec"`
	Get              Latency `json:"get"`
	ListPage500      Latency `json:"listPage500"`
	LabelSelector1   Latency `json:"labelSelector1pct"`
	WatchDelivery    Latency `json:"watchDelivery"`
	StatusUpdatesSec float64 `json:"statusUpdatesPerSec"`
	RSSMiB           float64 `json:"rssMiB"`
	PeakRSSMiB       float64 `json:"peakRssMiB"`
	RestartToListMs  float64 `json:"restartToFirstListMillis"`
	// PhasePeakRSSMiB is the server's VmHWM (peak RSS since it started)
	// read at the end of each phase.
	PhasePeakRSSMiB map[string]float64 `json:"phasePeakRssMiB"`
	ClientGo        *ClientGoReport    `json:"clientGo,omitempty"`
}

func (o *APIOptions) defaults() error {
	if o.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Exe = exe
	}
	if o.Objects <= 0 {
		o.Objects = 100000
	}
	if o.Namespaces <= 0 {
		o.Namespaces = 100
	}
	if o.Writers <= 0 {
		o.Writers = 8
	}
	if o.Samples <= 0 {
		o.Samples = 500
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// RunAPI starts a server, loads it and measures it.
func RunAPI(ctx context.Context, o APIOptions) (*APIReport, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.DataDir == "" {
		dir, err := os.MkdirTemp("", "kiln-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.DataDir = dir
	}
	srv, _, err := startServer(ctx, serverSpec{exe: o.Exe, dataDir: o.DataDir, database: o.Database, args: o.ServerArgs})
	if err != nil {
		return nil, err
	}
	rep := &APIReport{Backend: backendName(o.Database), Objects: o.Objects, Namespaces: o.Namespaces, Writers: o.Writers,
		PhasePeakRSSMiB: map[string]float64{}}
	b := &run{o: o, srv: srv, rep: rep}
	if err := b.all(ctx); err != nil {
		srv.stop()
		return rep, err
	}
	return rep, nil
}

func backendName(db string) string {
	if db == "" {
		return "sqlite"
	}
	return "postgres"
}

type run struct {
	o   APIOptions
	srv *serverProc
	rep *APIReport
}

func (b *run) logf(format string, args ...any) { fmt.Fprintf(b.o.Log, format+"\n", args...) }

type step struct {
	name string
	fn   func(context.Context) error
}

func (b *run) steps() []step {
	s := []step{{"seed namespaces", b.seedNamespaces}, {"creates", b.creates}, {"gets", b.gets},
		{"list pages", b.listPages}, {"label selector", b.labelSelector}}
	if b.o.ClientGo {
		s = append(s, step{"client-go list", b.clientGoLists})
	}
	return append(s, step{"watch", b.watch}, step{"status updates", b.statusUpdates}, step{"restart", b.restart})
}

func (b *run) all(ctx context.Context) error {
	for _, s := range b.steps() {
		b.logf("bench: %s…", s.name)
		if s.name == "restart" {
			_, b.rep.PeakRSSMiB = b.srv.rssMiB()
		}
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if s.name != "restart" {
			_, b.rep.PhasePeakRSSMiB[s.name] = b.srv.rssMiB()
		}
	}
	return nil
}

func nsName(i int) string { return "bench-" + strconv.Itoa(i) }

func (b *run) post(ctx context.Context, path string, obj any) error {
	raw, _ := json.Marshal(obj)
	res, err := b.srv.do(ctx, "POST", path, raw, "")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, body)
	}
	return nil
}

func (b *run) seedNamespaces(ctx context.Context) error {
	for i := 0; i < b.o.Namespaces; i++ {
		if err := b.post(ctx, "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": nsName(i)}}); err != nil {
			return err
		}
		if err := b.post(ctx, "/apis/kiln.dev/v1alpha1/namespaces/"+nsName(i)+"/applications",
			map[string]any{"metadata": map[string]any{"name": "app"}}); err != nil {
			return err
		}
	}
	return nil
}

func component(i, namespaces int) (string, map[string]any) {
	ns := nsName(i % namespaces)
	name := "c" + strconv.Itoa(i)
	return "/apis/kiln.dev/v1alpha1/namespaces/" + ns + "/components", map[string]any{
		"metadata": map[string]any{"name": name, "labels": map[string]string{"shard": "s" + strconv.Itoa((i/namespaces)%100)}},
		"spec": map[string]any{"application": "app", "source": map[string]any{"git": map[string]any{
			"url": "https://git.example.com/" + ns + "/" + name + ".git", "revision": "main"}}},
	}
}

// creates runs Writers goroutines creating Objects components.
func (b *run) creates(ctx context.Context) error {
	var next atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < b.o.Writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.o.Objects || firstErr.Load() != nil {
					return
				}
				path, obj := component(i, b.o.Namespaces)
				if err := b.post(ctx, path, obj); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	b.rep.CreatesPerSec = float64(b.o.Objects) / time.Since(start).Seconds()
	b.logf("bench: %d creates at %.0f/s", b.o.Objects, b.rep.CreatesPerSec)
	return nil
}

// timed runs fn Samples times and records its latency.
func (b *run) timed(ctx context.Context, fn func(i int) (string, error)) (Latency, error) {
	d := make([]time.Duration, 0, b.o.Samples)
	for i := 0; i < b.o.Samples; i++ {
		path, err := fn(i)
		if err != nil {
			return Latency{}, err
		}
		start := time.Now()
		res, err := b.srv.do(ctx, "GET", path, nil, "")
		if err != nil {
			return Latency{}, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		d = append(d, time.Since(start))
		if res.StatusCode != 200 {
			return Latency{}, fmt.Errorf("GET %s: %d", path, res.StatusCode)
		}
	}
	return summarise(d), nil
}

func (b *run) gets(ctx context.Context) (err error) {
	b.rep.Get, err = b.timed(ctx, func(int) (string, error) {
		path, obj := component(rand.IntN(b.o.Objects), b.o.Namespaces)
		return path + "/" + obj["metadata"].(map[string]any)["name"].(string), nil
	})
	return err
}

// listPages reads 500-item pages across all namespaces, following continue
// tokens from the start so every page is measured at a different offset.
func (b *run) listPages(ctx context.Context) (err error) {
	cont := ""
	b.rep.ListPage500, err = b.timed(ctx, func(int) (string, error) {
		path := "/apis/kiln.dev/v1alpha1/components?limit=500"
		if cont != "" {
			path += "&continue=" + cont
		}
		next, err := b.continueToken(ctx, path)
		cont = next
		return path, err
	})
	return err
}

// continueToken fetches a page once to learn the next token (not timed).
func (b *run) continueToken(ctx context.Context, path string) (string, error) {
	res, err := b.srv.do(ctx, "GET", path, nil, "")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var list struct {
		Metadata struct {
			Continue string `json:"continue"`
		} `json:"metadata"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		return "", err
	}
	return list.Metadata.Continue, nil
}

func (b *run) labelSelector(ctx context.Context) (err error) {
	samples := b.o.Samples
	b.o.Samples = min(samples, 200)
	defer func() { b.o.Samples = samples }()
	b.rep.LabelSelector1, err = b.timed(ctx, func(i int) (string, error) {
		return "/apis/kiln.dev/v1alpha1/components?labelSelector=shard%3Ds" + strconv.Itoa(i%100), nil
	})
	return err
}

// watch measures the time from sending a status update to receiving its
// event on a watch of the same namespace.
func (b *run) watch(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rv, err := b.listRV(ctx)
	if err != nil {
		return err
	}
	res, err := b.srv.do(wctx, "GET", "/apis/kiln.dev/v1alpha1/namespaces/"+nsName(0)+"/components?watch=true&resourceVersion="+rv, nil, "")
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("watch: %d", res.StatusCode)
	}
	if err != nil {
		return err
	}
	events := make(chan string, 1024)
	go readEvents(res.Body, events)
	d := make([]time.Duration, 0, b.o.Samples)
	for i := 0; i < b.o.Samples; i++ {
		name := "c" + strconv.Itoa((i*b.o.Namespaces)%b.o.Objects)
		start := time.Now()
		if err := b.patchStatus(ctx, nsName(0), name, i); err != nil {
			return err
		}
		if err := waitFor(events, name, 5*time.Second); err != nil {
			return err
		}
		d = append(d, time.Since(start))
	}
	b.rep.WatchDelivery = summarise(d)
	return nil
}

// listRV returns the current resource version from a one-item list.
func (b *run) listRV(ctx context.Context) (string, error) {
	res, err := b.srv.do(ctx, "GET", "/apis/kiln.dev/v1alpha1/namespaces/"+nsName(0)+"/components?limit=1", nil, "")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		return "", err
	}
	return list.Metadata.ResourceVersion, nil
}

func readEvents(body io.ReadCloser, out chan<- string) {
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Object struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"object"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			out <- ev.Object.Metadata.Name
		}
	}
}

func waitFor(events <-chan string, name string, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case got := <-events:
			if got == name {
				return nil
			}
		case <-t.C:
			return fmt.Errorf("no watch event for %s within %s", name, timeout)
		}
	}
}

func (b *run) patchStatus(ctx context.Context, ns, name string, n int) error {
	patch := []byte(`{"status":{"lastBuiltCommit":"` + strconv.Itoa(n) + `"}}`)
	res, err := b.srv.do(ctx, "PATCH", "/apis/kiln.dev/v1alpha1/namespaces/"+ns+"/components/"+name+"/status", patch, "application/merge-patch+json")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body) // read fully so the connection is reused
	if res.StatusCode != 200 {
		return fmt.Errorf("status patch %s/%s: %d %s", ns, name, res.StatusCode, body)
	}
	return nil
}

// statusUpdates runs Writers goroutines patching status for 5 seconds.
func (b *run) statusUpdates(ctx context.Context) error {
	var done atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < b.o.Writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; time.Now().Before(deadline); n += b.o.Writers {
				i := rand.IntN(b.o.Objects)
				if err := b.patchStatus(ctx, nsName(i%b.o.Namespaces), "c"+strconv.Itoa(i), n+1_000_000); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	b.rep.StatusUpdatesSec = float64(done.Load()) / 5
	b.rep.RSSMiB, b.rep.PeakRSSMiB = b.srv.rssMiB()
	return nil
}

// restart stops the server and measures start-up until the first list
// succeeds.
func (b *run) restart(ctx context.Context) error {
	b.srv.stop()
	srv, took, err := startServer(ctx, serverSpec{exe: b.o.Exe, dataDir: b.o.DataDir, database: b.o.Database, args: b.o.ServerArgs})
	if err != nil {
		return err
	}
	b.srv = srv
	b.rep.RestartToListMs = float64(took.Microseconds()) / 1000
	srv.stop()
	return nil
}
