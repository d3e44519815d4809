package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/oci/ocitest"
	"github.com/kilnbuild/kiln/internal/pgtest"
)

// The replica scenario: a chain of six components (c1 ← c2 ← … ← c6), each
// built by a shell script in the sandbox from its requirement's output, so
// that a new version of c1 cascades through all six. Replicas of `kiln up`
// share one PostgreSQL database, one shared directory and one CNCF
// distribution registry started as its own process.
const (
	chainNS  = "chain"
	chainApp = "chain"
	chainLen = 6
)

func chainComponents() []crashComponent {
	var out []crashComponent
	for i := 1; i <= chainLen; i++ {
		c := crashComponent{name: "c" + strconv.Itoa(i)}
		if i == 1 {
			c.script = "mkdir -p out; cat VERSION > out/c1.txt"
		} else {
			c.requires = []string{"c" + strconv.Itoa(i-1)}
		}
		out = append(out, c)
	}
	return out
}

// chainManifest is the namespace, application and components; every
// build sleeps a little so that kills land while builds run.
func chainManifest(urls map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %[1]s}\n---\napiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: %[2]s, namespace: %[1]s}\n", chainNS, chainApp)
	for _, c := range chainComponents() {
		y := componentYAML(c, "sleep 0.5; "+c.buildScript(), urls[c.name])
		y = strings.Replace(y, "namespace: "+crashNS, "namespace: "+chainNS, 1)
		y = strings.Replace(y, "application: "+crashApp, "application: "+chainApp, 1)
		b.WriteString(y)
	}
	return b.String()
}

func chainRepos(t *testing.T, dir string) (map[string]string, func(version string)) {
	t.Helper()
	urls := map[string]string{}
	for _, c := range chainComponents() {
		files := map[string]string{"README": c.name + "\n"}
		if c.name == "c1" {
			files["VERSION"] = "1\n"
		}
		urls[c.name] = fixedRepo(t, filepath.Join(dir, c.name), files)
	}
	return urls, func(v string) {
		commitFiles(t, filepath.Join(dir, "c1"), map[string]string{"VERSION": v + "\n"}, "version "+v)
	}
}

// cluster is N replicas of kiln up on one database, shared directory and
// registry.
type cluster struct {
	t        *testing.T
	dsn      string
	replicas []*kilnProc
	rng      *rand.Rand
}

func startCluster(t *testing.T, root string, n int, ttl string) *cluster {
	t.Helper()
	c := &cluster{t: t, dsn: pgtest.Start(t)}
	reg := ocitest.StartDistribution(t)
	shared := filepath.Join(root, "shared")
	for i := range n {
		id := "r" + strconv.Itoa(i+1)
		// The first replica starts alone: it creates the shared keys.
		c.replicas = append(c.replicas, startKiln(t, filepath.Join(root, id), "--database", c.dsn, "--shared-dir", shared,
			"--replica-id", id, "--push-registry", reg+"/kiln", "--push-registry-plain-http", "--build-workers", "2", "--lease-ttl", ttl))
	}
	return c
}

// any returns a replica that answers, trying them in a random order.
func (c *cluster) get(path string) ([]byte, error) {
	var err error
	for _, i := range rand.Perm(len(c.replicas)) {
		var b []byte
		if b, err = c.replicas[i].get(path); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// leases reads the live leases: name -> holder.
func (c *cluster) leases() (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT name, holder FROM leases WHERE expires_ms > EXTRACT(EPOCH FROM clock_timestamp()) * 1000`)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for rows.Next() {
		var name, holder string
		if err := rows.Scan(&name, &holder); err != nil {
			return nil, err
		}
		out[name] = holder
	}
	return out, rows.Err()
}

// replica returns the replica whose id starts holder ("r2#…").
func (c *cluster) replica(holder string) *kilnProc {
	for i, p := range c.replicas {
		if strings.HasPrefix(holder, "r"+strconv.Itoa(i+1)+"#") {
			return p
		}
	}
	return nil
}

// chainState is one read of the scenario's builds and components.
type chainState struct {
	builds     []v1alpha1.Build
	components map[string]*v1alpha1.Component
}

func readChain(c *cluster) (*chainState, error) {
	raw := func(res string) string { return "/apis/kiln.dev/v1alpha1/namespaces/" + chainNS + "/" + res }
	st := &chainState{components: map[string]*v1alpha1.Component{}}
	var err error
	builds, err := listFrom[v1alpha1.Build](c, raw("builds"))
	if err != nil {
		return nil, err
	}
	st.builds = builds
	comps, err := listFrom[v1alpha1.Component](c, raw("components"))
	if err != nil {
		return nil, err
	}
	for i := range comps {
		st.components[comps[i].Name] = &comps[i]
	}
	return st, nil
}

func listFrom[T any](c *cluster, path string) ([]T, error) {
	for _, i := range rand.Perm(len(c.replicas)) {
		if items, err := listItems[T](c.replicas[i], path); err == nil {
			return items, nil
		}
	}
	return nil, fmt.Errorf("no replica answers %s", path)
}

// builtPer counts the succeeded builds of each component: after v versions
// of c1, each component must have been built exactly v times.
func (st *chainState) builtPer() map[string]int {
	out := map[string]int{}
	for _, b := range st.builds {
		if b.Status.Phase == "Succeeded" {
			out[b.Spec.Component]++
		}
	}
	return out
}

func (st *chainState) quiet() bool {
	for i := range st.builds {
		if !buildDone(&st.builds[i]) {
			return false
		}
	}
	return len(st.components) == chainLen
}

// done: v versions built by every component and nothing in progress.
func (st *chainState) done(v int) bool {
	if !st.quiet() {
		return false
	}
	for _, c := range chainComponents() {
		if st.builtPer()[c.name] < v {
			return false
		}
	}
	return true
}

// interruptedUnfinished reports a build that was interrupted once and has
// not ended: killing its replica again would end it Failed by design.
func (st *chainState) interruptedUnfinished() bool {
	for i := range st.builds {
		if b := &st.builds[i]; !buildDone(b) && (b.Status.Interrupted || b.Status.Attempts > 1) {
			return true
		}
	}
	return false
}

func (st *chainState) describe() string {
	var lines []string
	for _, b := range st.builds {
		lines = append(lines, fmt.Sprintf("  %s %s attempts=%d interrupted=%v %s", b.Name, b.Status.Phase, b.Status.Attempts, b.Status.Interrupted, b.Status.Message))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// replicaKiller kills a replica with SIGKILL at random moments while
// builds run, the leader or a build's claim holder in turn, and restarts
// it at once.
type replicaKiller struct {
	rng                  *rand.Rand
	total, done          int
	leaders, claimHolder int
	at                   time.Time
}

func (k *replicaKiller) maybeKill(c *cluster, st *chainState) {
	if k.done >= k.total || st.quiet() || st.interruptedUnfinished() {
		k.at = time.Time{}
		return
	}
	if k.at.IsZero() {
		k.at = time.Now().Add(time.Duration(k.rng.Int64N(int64(1500 * time.Millisecond))))
		return
	}
	if time.Now().Before(k.at) {
		return
	}
	victim := k.pick(c)
	if victim == nil {
		return
	}
	victim.kill9()
	victim.start()
	k.done++
	k.at = time.Time{}
}

// pick chooses the leader on even kills and a build's claim holder on odd
// ones (the leader when no build is claimed).
func (k *replicaKiller) pick(c *cluster) *kilnProc {
	ls, err := c.leases()
	if err != nil {
		return nil
	}
	var holders []string
	for name, h := range ls {
		if strings.HasPrefix(name, "build/") {
			holders = append(holders, h)
		}
	}
	sort.Strings(holders)
	if k.done%2 == 1 && len(holders) > 0 {
		k.claimHolder++
		return c.replica(holders[k.rng.IntN(len(holders))])
	}
	if ls["kiln/leader"] == "" {
		return nil
	}
	k.leaders++
	return c.replica(ls["kiln/leader"])
}

// chainResult is what must not depend on replicas or kills: each
// component's content digest and how many times it was built.
type chainResult struct {
	Digests map[string]string
	Builds  map[string]int
}

// maxVersions bounds the versions a killed run cascades to reach its kills.
const maxVersions = 12

// runChain applies the scenario to a cluster of n replicas and cascades
// new versions of c1 through it: `versions` of them, or with a killer as
// many as it takes to kill enough (at least `versions`). It returns the
// final state and the number of versions.
func runChain(t *testing.T, n, versions int, k *replicaKiller) (chainResult, int) {
	t.Helper()
	root := t.TempDir()
	urls, bump := chainRepos(t, filepath.Join(root, "repos"))
	c := startCluster(t, root, n, "3s")
	manifest := filepath.Join(root, "chain.yaml")
	if err := os.WriteFile(manifest, []byte(chainManifest(urls)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := c.replicas[0].kiln("apply", "-f", manifest); err != nil {
		t.Fatalf("applying the scenario: %v\n%s", err, out)
	}
	st := waitChain(t, c, 1, k)
	v := 1
	for v-1 < versions || k != nil && k.done < k.total && v-1 < maxVersions {
		v++
		bump(strconv.Itoa(v))
		st = waitChain(t, c, v, k)
	}
	checkChain(t, c, st, v)
	res := chainResult{Digests: map[string]string{}, Builds: st.builtPer()}
	for name, comp := range st.components {
		res.Digests[name] = comp.Status.LatestContentDigest
	}
	return res, v - 1
}

// waitChain waits until every component built v versions, killing when
// the killer wants to.
func waitChain(t *testing.T, c *cluster, v int, k *replicaKiller) *chainState {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var last *chainState
	for time.Now().Before(deadline) {
		st, err := readChain(c)
		if err == nil {
			last = st
			if st.done(v) {
				return st
			}
			if k != nil {
				k.maybeKill(c, st)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	desc := "(no state read)"
	if last != nil {
		desc = last.describe()
	}
	t.Fatalf("version %d not built by every component within 3 minutes (stuck?):\n%s\nlog of r1:\n%s", v, desc, c.replicas[0].logTail())
	return nil
}

// checkChain checks every build: succeeded, exactly one per component and
// version, and every attempt it counts ran once (its log has one header
// per attempt, so no two replicas ran the same attempt).
func checkChain(t *testing.T, c *cluster, st *chainState, versions int) {
	t.Helper()
	for _, b := range st.builds {
		if b.Status.Phase != "Succeeded" {
			t.Errorf("build %s ended %s: %s", b.Name, b.Status.Phase, b.Status.Message)
		}
		if b.Status.Attempts > 1 && !b.Status.Interrupted {
			t.Errorf("build %s ran %d attempts but was never interrupted", b.Name, b.Status.Attempts)
		}
		log, err := c.get("/apis/kiln.dev/v1alpha1/namespaces/" + chainNS + "/builds/" + b.Name + "/log")
		if err != nil {
			t.Errorf("log of %s: %v", b.Name, err)
			continue
		}
		if n := strings.Count(string(log), "==> build "); n != b.Status.Attempts {
			t.Errorf("build %s: %d attempts recorded, %d started in its log:\n%s", b.Name, b.Status.Attempts, n, log)
		}
	}
	for _, comp := range chainComponents() {
		if n := st.builtPer()[comp.name]; n != versions {
			t.Errorf("component %s built %d times for %d versions:\n%s", comp.name, n, versions, st.describe())
		}
	}
}

// TestReplicasKill9 runs the chain on three replicas while one replica
// after another is killed with SIGKILL (at least KILN_REPLICA_KILLS times,
// default 10: the leader and builds' claim holders in turn) and restarted,
// then on one replica undisturbed: each component is built exactly once
// per version, nothing is stuck, and both runs end in the same state.
func TestReplicasKill9(t *testing.T) {
	requireCrashTools(t)
	kills := envInt(t, "KILN_REPLICA_KILLS", 10)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KILN_REPLICA_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (KILN_REPLICA_SEED reproduces the kill schedule)", seed)
	k := &replicaKiller{rng: rand.New(rand.NewPCG(seed, seed)), total: kills}
	got, versions := runChain(t, 3, 2, k)
	t.Logf("%d kills (%d of the leader, %d of a build's claim holder) over %d versions", k.done, k.leaders, k.claimHolder, versions)
	if k.done < kills {
		t.Fatalf("only %d of %d kills happened", k.done, kills)
	}
	ref, _ := runChain(t, 1, versions, nil)
	if diff := cmp.Diff(ref, got); diff != "" {
		t.Errorf("final state of the killed replicas differs from one undisturbed replica (-want +got):\n%s", diff)
	}
}

// slowManifest is three independent components whose builds take
// `seconds`.
func slowManifest(t *testing.T, dir string, seconds int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %[1]s}\n---\napiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: %[2]s, namespace: %[1]s}\n", chainNS, chainApp)
	for i := 1; i <= 3; i++ {
		c := crashComponent{name: "slow" + strconv.Itoa(i)}
		url := fixedRepo(t, filepath.Join(dir, c.name), map[string]string{"README": c.name + "\n"})
		y := componentYAML(c, fmt.Sprintf("sleep %d; mkdir -p out; echo %s > out/x.txt", seconds, c.name), url)
		y = strings.Replace(y, "namespace: "+crashNS, "namespace: "+chainNS, 1)
		b.WriteString(strings.Replace(y, "application: "+crashApp, "application: "+chainApp, 1))
	}
	return b.String()
}

// claims returns the live build claims: build name -> holder.
func (c *cluster) claims(t *testing.T) map[string]string {
	t.Helper()
	ls, err := c.leases()
	if err != nil {
		t.Fatalf("reading leases: %v", err)
	}
	out := map[string]string{}
	for name, h := range ls {
		if rest, ok := strings.CutPrefix(name, "build/"+chainNS+"/"); ok {
			out[rest] = h
		}
	}
	return out
}

func buildNamed(st *chainState, name string) *v1alpha1.Build {
	for i := range st.builds {
		if st.builds[i].Name == name {
			return &st.builds[i]
		}
	}
	return nil
}

// waitFor polls cond every 50 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, within)
	return 0
}

// TestReplicaClaimTakeover runs builds on two replicas with the default
// lease TTL: a build whose claim is alive is never re-queued by the other
// replica (watched for two TTLs), the builds of a replica killed with
// SIGKILL are re-queued within 15 s, and a killed leader is replaced.
func TestReplicaClaimTakeover(t *testing.T) {
	requireCrashTools(t)
	root := t.TempDir()
	c := startCluster(t, root, 2, "8s")
	const ttl = 8 * time.Second
	manifest := filepath.Join(root, "slow.yaml")
	if err := os.WriteFile(manifest, []byte(slowManifest(t, filepath.Join(root, "repos"), 30)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := c.replicas[0].kiln("apply", "-f", manifest); err != nil {
		t.Fatalf("applying: %v\n%s", err, out)
	}
	// Two build workers per replica and three builds: both replicas run.
	var claims map[string]string
	waitFor(t, "three builds claimed", time.Minute, func() bool { claims = c.claims(t); return len(claims) == 3 })
	ls, _ := c.leases()
	leader := ls["kiln/leader"]
	var victim, victimBuild string
	for b, h := range claims {
		if c.replica(h) != c.replica(leader) {
			victim, victimBuild = h, b
		}
	}
	if victim == "" {
		t.Fatalf("no build runs on the follower: claims %v, leader %s", claims, leader)
	}
	// Two TTLs: the leader's scheduler looks at the follower's builds every
	// half TTL and must leave them alone.
	watchUntil := time.Now().Add(2 * ttl)
	for time.Now().Before(watchUntil) {
		st, err := readChain(c)
		if err != nil {
			t.Fatal(err)
		}
		for name, h := range claims {
			b := buildNamed(st, name)
			if b == nil || b.Status.Phase != "Running" || b.Status.Attempts != 1 || b.Status.Interrupted {
				t.Fatalf("build %s, claimed by %s, was disturbed while its claim was alive:\n%s", name, h, st.describe())
			}
		}
		if now := c.claims(t); !cmp.Equal(now, claims) {
			t.Fatalf("claims changed while their holders lived: %v -> %v", claims, now)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The follower's running build's log, read through the leader.
	log, err := c.replica(leader).get("/apis/kiln.dev/v1alpha1/namespaces/" + chainNS + "/builds/" + victimBuild + "/log")
	if err != nil || !strings.Contains(string(log), "(attempt 1) of component") || !strings.Contains(string(log), " on "+victim) {
		t.Fatalf("log of %s, running on %s, read through the leader: %v\n%s", victimBuild, victim, err, log)
	}
	follower := c.replica(victim)
	follower.kill9()
	took := waitFor(t, "the dead follower's build re-queued", 15*time.Second, func() bool {
		st, err := readChain(c)
		if err != nil {
			return false
		}
		b := buildNamed(st, victimBuild)
		return b != nil && b.Status.Interrupted && (b.Status.Phase == "Queued" || b.Status.Phase == "Running" && b.Status.Attempts == 2)
	})
	t.Logf("build %s of the killed follower taken over after %v (lease TTL %v)", victimBuild, took.Round(10*time.Millisecond), ttl)
	follower.start()
	lead := c.replica(leader)
	// A build interrupted twice fails, by design (bounded retries): the
	// leader is killed only once no build the follower's death interrupted
	// (it may have run more than one) runs on it or waits to.
	waitFor(t, "the taken-over builds finished or running off the leader", 3*time.Minute, func() bool {
		st, err := readChain(c)
		ls, lerr := c.leases()
		if err != nil || lerr != nil {
			return false
		}
		for _, b := range st.builds {
			if !b.Status.Interrupted || b.Status.Phase == "Succeeded" {
				continue
			}
			h := ls["build/"+chainNS+"/"+b.Name]
			if b.Status.Phase != "Running" || h == "" || c.replica(h) == lead {
				return false
			}
		}
		return buildNamed(st, victimBuild) != nil
	})
	lead.kill9()
	took = waitFor(t, "a new leader", 15*time.Second, func() bool {
		ls, err := c.leases()
		return err == nil && ls["kiln/leader"] != "" && ls["kiln/leader"] != leader
	})
	t.Logf("leader %s replaced after %v", leader, took.Round(10*time.Millisecond))
	lead.start()
	var last *chainState
	defer func() {
		if t.Failed() && last != nil {
			t.Logf("last state:\n%s", last.describe())
		}
	}()
	waitFor(t, "every build succeeded", 5*time.Minute, func() bool {
		st, err := readChain(c)
		if err != nil {
			return false
		}
		last = st
		if len(st.builds) != 3 {
			return false
		}
		for _, b := range st.builds {
			if b.Status.Phase != "Succeeded" {
				return false
			}
		}
		return true
	})
}
