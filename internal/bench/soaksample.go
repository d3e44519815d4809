package bench

import (
	"context"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// memEvery is how often RSS is read for the memory trend.
const memEvery = 5 * time.Second

// storeDirs are the data directory's stores that are directories.
var storeDirs = []string{"registry", "logs", "evidence", "git", "work", "repos", "step-images"}

// storeSample is the data directory and database at one moment.
type storeSample struct {
	Disk map[string]DiskUsage
	DB   *sqlstore.Usage
}

// memPoint is the server's memory and CPU after builds builds had
// finished.
type memPoint struct {
	at      time.Duration
	builds  int
	rssMiB  float64
	heapMiB float64
	cpu     float64 // the server's
	child   float64 // its children's
}

// sampler measures the server during the soak.
type sampler struct {
	s  *soak
	tr *tracker
	pr *prober
	c  *client.Client
	gc *gcTrace

	t0, driveEnd, end time.Time
	baseline, final   storeSample
	idleStart         ProcSample
	idleEnd           ProcSample
	gcStart, gcEnd    GCSample
	lastProc          ProcSample
	intervals         []SoakInterval
	mem               []memPoint
	last              time.Time
	drained           bool
	aborted           error
}

func newSampler(s *soak, tr *tracker, c *client.Client) *sampler {
	return &sampler{s: s, tr: tr, c: c, pr: &prober{c: c, tr: tr, rng: rand.New(rand.NewPCG(s.o.Seed, 1))},
		gc: &gcTrace{path: filepath.Join(s.dataDir, "server.log")}}
}

// measure takes the baseline, drives the builds while sampling and
// probing, drains, and takes the final sample. An error means the soak
// could not start; a driver that gave up is recorded in aborted.
func (m *sampler) measure(ctx context.Context, d *driver) error {
	m.baseline, m.idleStart, m.gcStart = m.s.sampleStores(ctx), sampleProc(m.s.srv.cmd.Process.Pid), m.gc.read()
	m.lastProc = m.idleStart
	m.t0 = time.Now()
	m.last = m.t0
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); m.loop(sctx) }()
	go func() { defer wg.Done(); m.pr.run(sctx) }()
	m.s.logf("driving %d builds over %s (%.0f builds/h)…", m.s.o.Builds, m.s.o.Duration, d.rate*3600)
	m.aborted = d.run(ctx)
	m.driveEnd = time.Now()
	if m.aborted == nil {
		m.drain(ctx)
	}
	stop()
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	m.addInterval(ctx, time.Now())
	m.final, m.idleEnd, m.gcEnd = m.s.sampleStores(ctx), sampleProc(m.s.srv.cmd.Process.Pid), m.gc.read()
	m.end = time.Now()
	return nil
}

// drain waits up to Drain for the work left to finish.
func (m *sampler) drain(ctx context.Context) {
	m.s.logf("draining…")
	dctx, cancel := context.WithTimeout(ctx, m.s.o.Drain)
	defer cancel()
	m.drained = m.s.settle(dctx, m.c, m.tr) == nil
}

// loop reads RSS every memEvery and takes a full sample every Interval.
func (m *sampler) loop(ctx context.Context) {
	t := time.NewTicker(min(memEvery, m.s.o.Interval))
	defer t.Stop()
	next := m.t0.Add(m.s.o.Interval)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			m.memPoint(now)
			if !now.Before(next) {
				// A sample under way when the drive ends completes: the
				// stop only ends the loop.
				m.addInterval(context.WithoutCancel(ctx), now)
				next = next.Add(m.s.o.Interval)
			}
		}
	}
}

func (m *sampler) memPoint(now time.Time) {
	p := sampleProc(m.s.srv.cmd.Process.Pid)
	m.mem = append(m.mem, memPoint{at: now.Sub(m.t0), builds: len(m.tr.builds.finishedBetween(m.t0, now)),
		rssMiB: p.RSSMiB, heapMiB: m.gc.read().HeapMiB, cpu: p.CPUSeconds, child: p.ChildCPUSeconds})
}

// addInterval records the interval since the last one.
func (m *sampler) addInterval(ctx context.Context, now time.Time) {
	iv := SoakInterval{StartSeconds: m.last.Sub(m.t0).Seconds(), EndSeconds: now.Sub(m.t0).Seconds(),
		ProcSample: sampleProc(m.s.srv.cmd.Process.Pid), GCSample: m.gc.read()}
	m.addBuilds(&iv, now)
	iv.List, iv.Get = m.pr.between(m.last, now)
	iv.Queued, iv.Running = m.tr.builds.queue()
	iv.TotalFinished = len(m.tr.builds.finishedBetween(m.t0, now))
	st := m.s.sampleStores(ctx)
	iv.Disk = map[string]int64{}
	for k, u := range st.Disk {
		iv.Disk[k] = u.Bytes
	}
	if st.DB != nil {
		iv.DBObjects, iv.DBEvents = sqlstore.Total(st.DB.Objects).Count, sqlstore.Total(st.DB.Events).Count
	}
	m.intervals = append(m.intervals, iv)
	m.last = now
	m.s.logf("%s", iv.line())
}

// addBuilds counts the builds finished in the interval, their latency,
// and the CPU they cost.
func (m *sampler) addBuilds(iv *SoakInterval, now time.Time) {
	var lat []time.Duration
	for _, r := range m.tr.builds.finishedBetween(m.last, now) {
		iv.Finished++
		if r.result == failed {
			iv.Failed++
		} else if r.direct {
			lat = append(lat, r.done.Sub(r.start))
		}
	}
	iv.Build = summarise(lat)
	iv.CPUPercent = 100 * (iv.CPUSeconds - m.lastProc.CPUSeconds) / now.Sub(m.last).Seconds()
	if iv.Finished > 0 {
		iv.CPUPerBuildMs = 1000 * (iv.CPUSeconds - m.lastProc.CPUSeconds) / float64(iv.Finished)
		iv.ChildCPUPerBuildMs = 1000 * (iv.ChildCPUSeconds - m.lastProc.ChildCPUSeconds) / float64(iv.Finished)
	}
	m.lastProc = iv.ProcSample
}

// sampleStores measures every store of the data directory in one walk,
// and the database.
func (s *soak) sampleStores(ctx context.Context) storeSample {
	disk := map[string]DiskUsage{}
	_ = filepath.WalkDir(s.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == s.dataDir {
			return nil // missing or unreadable (a build's files vanishing): skipped
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(s.dataDir, p)
		u := disk[storeOf(rel)]
		u.add(info)
		disk[storeOf(rel)] = u
		return nil
	})
	db := s.readDB(ctx)
	if s.o.Database != "" && db != nil {
		disk["database"] = DiskUsage{Apparent: db.SizeBytes, Bytes: db.SizeBytes}
	}
	return storeSample{Disk: disk, DB: db}
}

// storeOf names the store a data directory entry belongs to.
func storeOf(rel string) string {
	top, _, _ := strings.Cut(rel, string(filepath.Separator))
	switch {
	case strings.HasPrefix(top, "kiln.db"):
		return "database"
	case top == "server.log" || slices.Contains(storeDirs, top):
		return top
	}
	return "other"
}

// timing is one probe.
type timing struct {
	at time.Time
	d  time.Duration
}

// probeEvery is how often the prober reads a list page and an object.
const probeEvery = 500 * time.Millisecond

// listPath is the list page probed: the first 100 builds.
const listPath = "/apis/kiln.dev/v1alpha1/namespaces/" + soakNamespace + "/builds?limit=100"

// prober measures API latency as a user sees it while the soak runs.
type prober struct {
	c   *client.Client
	tr  *tracker
	rng *rand.Rand

	mu        sync.Mutex
	list, get []timing
	errors    int
	lastErr   string
}

func (p *prober) run(ctx context.Context) {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.probe(ctx, &p.list, listPath)
			path := "/apis/kiln.dev/v1alpha1/namespaces/" + soakNamespace + "/components/lib-0"
			if name := p.tr.builds.randomName(p.rng); name != "" {
				path = "/apis/kiln.dev/v1alpha1/namespaces/" + soakNamespace + "/builds/" + name
			}
			p.probe(ctx, &p.get, path)
		}
	}
}

func (p *prober) probe(ctx context.Context, into *[]timing, path string) {
	start := time.Now()
	_, err := p.c.Do(ctx, "GET", path, nil, nil)
	took := time.Since(start)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			p.errors++
			p.lastErr = err.Error()
		}
		return
	}
	*into = append(*into, timing{at: start, d: took})
}

// between summarises the probes started in [from, to).
func (p *prober) between(from, to time.Time) (list, get Latency) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return summarise(window(p.list, from, to)), summarise(window(p.get, from, to))
}

func window(ts []timing, from, to time.Time) []time.Duration {
	var out []time.Duration
	for _, t := range ts {
		if !t.at.Before(from) && t.at.Before(to) {
			out = append(out, t.d)
		}
	}
	return out
}
