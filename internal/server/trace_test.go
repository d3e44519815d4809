package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kilnbuild/kiln/internal/attest"

	"github.com/kilnbuild/kiln/internal/lineage"
	"github.com/kilnbuild/kiln/internal/trace"
)

const helloGoMod = "module example.com/hello\n\ngo 1.22\n\nrequire golang.org/x/net v0.1.0\n"

// TestTraceDependencyChainEndToEnd builds a library (whose go.mod the SBOM
// lists) and an app against it, releases both to a production registry,
// then traces: up from the released app reaches the library's commit;
// down from that commit reaches the release and its destinations, as does
// a purl range; a second tenant sees its cut; an imported artifact shows
// verified (right key) or unverified (wrong key) edges; a tampered
// attestation shows an unverified edge after a reindex; bad references
// get clear errors.
func TestTraceDependencyChainEndToEnd(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	env := setupRelease(t)
	a, f := env.a, env.f
	libURL, _ := gitRepo(t, map[string]string{"go.mod": helloGoMod, "VERSION": "1\n"})
	appURL, _ := gitRepo(t, map[string]string{"README": "app\n"})
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", libURL, map[string]any{
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`},
			map[string]any{"name": "script", "value": "mkdir -p out; echo hello > out/greeting.txt"}}}))
	lib := waitBuild(t, a, "hello", 1)
	if str(lib, "status", "phase") != "Succeeded" {
		t.Fatalf("library build: %v", lib["status"])
	}
	waitRelease(t, a, "greet-"+str(lib, "metadata", "name")+"-to-prod")
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("app", appURL, map[string]any{"requires": []any{"hello"},
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`},
			map[string]any{"name": "script", "value": "mkdir -p out; cp /kiln/deps/hello/out/greeting.txt out/app.txt"}}}))
	app := waitBuild(t, a, "app", 1)
	if str(app, "status", "phase") != "Succeeded" {
		t.Fatalf("app build: %v", app["status"])
	}
	rel := waitRelease(t, a, "greet-"+str(app, "metadata", "name")+"-to-prod")
	if str(rel, "status", "phase") != "Succeeded" {
		t.Fatalf("release: %v", rel["status"])
	}
	c := chain{t: t, f: f, kiln: kilnCLI(t, f), libURL: libURL, lib: lib, app: app, rel: str(rel, "metadata", "name"), prod: env.prodHost + "/prod/"}
	c.upFromReleasedApp()
	c.downFromLibraryCommit()
	c.purlRange()
	c.badInput()
	c.secondTenant(a)
	c.imports(a)
	c.tamperedAttestation()
}

type chain struct {
	t        *testing.T
	f        *Factory
	kiln     func(args ...string) (string, error)
	libURL   string
	lib, app map[string]any
	rel      string
	prod     string
}

func artifactRef(b map[string]any) string {
	return str(b, "status", "artifact", "repository") + "@" + str(b, "status", "artifact", "digest")
}

func (c *chain) libCommit() string {
	return trace.SourceURL(c.libURL) + "@" + str(c.lib, "status", "commit")
}

// traceJSON runs `kiln trace` with -o json and decodes the result; the
// trace is retried until want holds (the index follows builds
// asynchronously).
func (c *chain) traceJSON(want func(*trace.Result) bool, args ...string) *trace.Result {
	c.t.Helper()
	var res trace.Result
	var out string
	eventuallyFor(c.t, "kiln "+strings.Join(args, " "), 30*time.Second, func() bool {
		var err error
		out, err = c.kiln(append(append([]string{"trace"}, args...), "-o", "json")...)
		res = trace.Result{}
		return err == nil && json.Unmarshal([]byte(out), &res) == nil && want(&res)
	})
	return &res
}

func findNode(r *trace.Result, kind lineage.NodeKind, key string) *trace.ResultNode {
	for i, n := range r.Nodes {
		if n.Kind == kind && n.Key == key {
			return &r.Nodes[i]
		}
	}
	return nil
}

func findEdge(r *trace.Result, from, to *trace.ResultNode, kind lineage.EdgeKind) *trace.ResultEdge {
	for i, e := range r.Edges {
		if from != nil && to != nil && e.From == from.ID && e.To == to.ID && e.Kind == kind {
			return &r.Edges[i]
		}
	}
	return nil
}

func hasTrust(e *trace.ResultEdge, origin lineage.Origin, trust lineage.Trust) *trace.EdgeSource {
	if e == nil {
		return nil
	}
	for i, s := range e.Sources {
		if s.Origin == origin && s.Trust == trust {
			return &e.Sources[i]
		}
	}
	return nil
}

func (c *chain) upFromReleasedApp() {
	t := c.t
	res := c.traceJSON(func(r *trace.Result) bool { return findNode(r, lineage.KindCommit, c.libCommit()) != nil }, "up", artifactRef(c.app))
	libArt, appBuild := findNode(res, lineage.KindArtifact, artifactRef(c.lib)), findNode(res, lineage.KindBuild, str(c.app, "metadata", "name"))
	input := findEdge(res, libArt, appBuild, lineage.EdgeInput)
	keyID := c.f.signer.KeyID()
	if s := hasTrust(input, lineage.OriginProvenance, lineage.TrustVerified); s == nil || s.KeyID != keyID {
		t.Fatalf("the app's input edge from the library is not verified with the builder key %s: %+v", keyID, input)
	}
	if hasTrust(input, lineage.OriginRecord, lineage.TrustRecord) == nil {
		t.Fatalf("the input edge lacks Kiln's own record: %+v", input)
	}
	libBuild := findNode(res, lineage.KindBuild, str(c.lib, "metadata", "name"))
	if s := hasTrust(findEdge(res, findNode(res, lineage.KindCommit, c.libCommit()), libBuild, lineage.EdgeSource), lineage.OriginProvenance, lineage.TrustVerified); s == nil {
		t.Fatal("the library's commit → build edge is not backed by its verified provenance")
	}
	res = c.traceJSON(func(r *trace.Result) bool { return findNode(r, lineage.KindCommit, c.libCommit()) != nil }, "up", "release/"+c.rel)
	if findNode(res, lineage.KindSnapshot, strings.TrimSuffix(c.rel, "-to-prod")) == nil {
		t.Fatalf("trace up from the release does not show its snapshot: %+v", res.Nodes)
	}
	out, err := c.kiln("trace", "up", "release/"+c.rel)
	if err != nil || !strings.Contains(out, "revision (") || !strings.Contains(out, "(verified)") || !strings.Contains(out, c.libCommit()) {
		t.Fatalf("kiln trace up (tree): %v\n%s", err, out)
	}
	if out, err := c.kiln("trace", "up", "release/"+c.rel, "-o", "dot"); err != nil || !strings.HasPrefix(out, "digraph trace {") {
		t.Fatalf("kiln trace up -o dot: %v\n%s", err, out)
	}
}

func (c *chain) downFromLibraryCommit() {
	appDst := c.prod + "app@" + str(c.app, "status", "artifact", "digest")
	libDst := c.prod + "hello@" + str(c.lib, "status", "artifact", "digest")
	res := c.traceJSON(func(r *trace.Result) bool {
		return findNode(r, lineage.KindRelease, c.rel) != nil && findNode(r, lineage.KindDestination, appDst) != nil
	}, "down", c.libCommit())
	if d := findNode(res, lineage.KindDestination, libDst); d == nil || d.Namespace != "prod" {
		c.t.Fatalf("the library's own destination: %+v", d)
	}
	out, err := c.kiln("trace", "down", c.libCommit(), "-o", "table")
	if err != nil || !strings.Contains(out, "DEPTH") || !strings.Contains(out, appDst) {
		c.t.Fatalf("kiln trace down -o table: %v\n%s", err, out)
	}
}

func (c *chain) purlRange() {
	appDst := c.prod + "app@" + str(c.app, "status", "artifact", "digest")
	res := c.traceJSON(func(r *trace.Result) bool { return findNode(r, lineage.KindDestination, appDst) != nil },
		"down", "pkg:golang/golang.org/x/net@<0.23.0")
	if p := findNode(res, lineage.KindPackage, "pkg:golang/golang.org/x/net@v0.1.0"); p == nil || p.Depth != 0 {
		c.t.Fatalf("the package is not the start: %+v", res.Nodes)
	}
	if findNode(res, lineage.KindRelease, c.rel) == nil {
		c.t.Fatal("where x/net <0.23.0 ships: not the release")
	}
	out, err := c.kiln("trace", "down", "pkg:golang/golang.org/x/net@>=0.23.0")
	if err == nil || !strings.Contains(err.Error(), "no package pkg:golang/golang.org/x/net@vers:golang/>=0.23.0 is indexed") {
		c.t.Fatalf("a range no indexed version matches: %v\n%s", err, out)
	}
}

func (c *chain) badInput() {
	for args, says := range map[string]string{
		"up build/no-such-build":               "no build default/no-such-build is indexed",
		"down pkg:golang":                      "purl",
		"down pkg:golang/golang.org/x/net@<<1": "want a comparator",
		"down sha256:1234":                     "64 lower-case hex digits",
		"up build/x -o yaml":                   "unknown output format",
	} {
		out, err := c.kiln(append([]string{"trace"}, strings.Fields(args)...)...)
		if err == nil || !strings.Contains(out+err.Error(), says) {
			c.t.Errorf("kiln trace %s: %v\n%s\nwant an error saying %q", args, err, out, says)
		}
	}
}

// secondTenant: bob reads default but not the managed namespace prod; carol
// reads only her own namespace.
func (c *chain) secondTenant(admin api) {
	t := c.t
	bob := userToken(t, admin, "bob")
	admin.must(201, "POST", nsPath("default", "rolebindings"), map[string]any{"metadata": map[string]any{"name": "bob-views"},
		"spec": map[string]any{"role": "viewer", "subjects": []any{map[string]any{"kind": "User", "name": "bob"}}}})
	res := c.traceJSON(func(r *trace.Result) bool { return findNode(r, lineage.KindRelease, c.rel) != nil }, "down", c.libCommit(), "--token", bob)
	for _, n := range res.Nodes {
		if n.Namespace != "default" {
			t.Fatalf("bob sees a node of %s: %+v", n.Namespace, n)
		}
	}
	if res.Cut < 2 {
		t.Fatalf("bob's trace down is cut at %d nodes; want the destinations in prod", res.Cut)
	}
	if out, _ := c.kiln("trace", "down", c.libCommit(), "--token", bob); !strings.Contains(out, "nodes in namespaces you cannot read") {
		t.Fatalf("bob's tree does not say it was cut:\n%s", out)
	}
	carol := api{t: t, base: c.f.URL, token: userToken(t, admin, "carol"), hc: c.f.HTTPClient()}
	carol.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "carols"}})
	out, err := c.kiln("trace", "down", "pkg:golang/golang.org/x/net", "--token", carol.token, "-o", "json")
	var r trace.Result
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || len(r.Nodes) != 0 || r.Cut == 0 {
		t.Fatalf("carol's trace of a package only default has: %v %+v\n%s", err, r, out)
	}
	if out, err := c.kiln("trace", "up", "build/"+str(c.lib, "metadata", "name"), "-n", "default", "--token", carol.token); err == nil || !strings.Contains(out+err.Error(), "Forbidden") {
		t.Fatalf("carol traced a build of default by name: %v\n%s", err, out)
	}
	carol.must(403, "POST", apiTrace+"/reindex", nil)
}

const apiTrace = kiln + "/trace"

// imports: the library's artifact imported into other namespaces with the
// builder's key (verified) and with another key (unverified).
func (c *chain) imports(admin api) {
	t := c.t
	pub := filepath.Join(t.TempDir(), "builder.pub")
	other := filepath.Join(t.TempDir(), "other.pub")
	writeKey(t, pub, c.f.signer.PublicKey())
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	writeKey(t, other, &k.PublicKey)
	for _, ns := range []string{"imported", "misimported"} {
		admin.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": ns}})
	}
	out, err := c.kiln("trace", "import", artifactRef(c.lib), "--key", pub, "-n", "imported")
	if err != nil || !strings.Contains(out, "2 statements verified, 0 not") {
		t.Fatalf("import with the builder key: %v\n%s", err, out)
	}
	out, err = c.kiln("trace", "import", artifactRef(c.lib), "--key", other, "-n", "misimported")
	if err != nil || !strings.Contains(out, "0 statements verified, 2 not") || !strings.Contains(out, "signature invalid") {
		t.Fatalf("import with another key: %v\n%s", err, out)
	}
	res := c.traceJSON(func(r *trace.Result) bool { return len(r.Roots) == 3 }, "up", artifactRef(c.lib))
	for _, ns := range []string{"imported", "misimported"} {
		art := nodeIn(res, lineage.KindArtifact, ns)
		b := nodeIn(res, lineage.KindBuild, ns)
		e := findEdge(res, b, art, lineage.EdgeOutput)
		want := lineage.TrustVerified
		if ns == "misimported" {
			want = lineage.TrustUnverified
		}
		if b == nil || b.Attrs["builder"] != DefaultBuilderID || e == nil || e.Trust != want || findNode(res, lineage.KindCommit, c.libCommit()) == nil {
			t.Fatalf("import into %s: build %+v, edge %+v, want trust %s", ns, b, e, want)
		}
	}
	if out, err := c.kiln("trace", "import", artifactRef(c.lib), "-n", "no-such-namespace"); err == nil {
		t.Fatalf("an import into a namespace that does not exist: %s", out)
	}
}

func nodeIn(r *trace.Result, kind lineage.NodeKind, ns string) *trace.ResultNode {
	for i, n := range r.Nodes {
		if n.Kind == kind && n.Namespace == ns {
			return &r.Nodes[i]
		}
	}
	return nil
}

func writeKey(t *testing.T, path string, key any) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tamperedAttestation rewrites the app's provenance in the registry to
// claim another commit (its signature no longer verifies), reindexes, and
// expects that claim shown as unverified while Kiln's record stands.
func (c *chain) tamperedAttestation() {
	t := c.t
	forged := strings.Repeat("6", 40)
	tamperProvenance(t, c.f, artifactRef(c.app), str(c.app, "status", "commit"), forged)
	out, err := c.kiln("trace", "reindex")
	if err != nil || !strings.Contains(out, "reindexed") {
		t.Fatalf("kiln trace reindex: %v\n%s", err, out)
	}
	res := c.traceJSON(func(*trace.Result) bool { return true }, "up", artifactRef(c.app))
	appBuild := findNode(res, lineage.KindBuild, str(c.app, "metadata", "name"))
	var forgedEdge, realEdge *trace.ResultEdge
	for i, e := range res.Edges {
		from := res.Nodes[slices.IndexFunc(res.Nodes, func(n trace.ResultNode) bool { return n.ID == e.From })]
		if e.To == appBuild.ID && e.Kind == lineage.EdgeSource {
			if strings.HasSuffix(from.Key, "@"+forged) {
				forgedEdge = &res.Edges[i]
			} else {
				realEdge = &res.Edges[i]
			}
		}
	}
	if forgedEdge == nil || forgedEdge.Trust != lineage.TrustUnverified || !strings.Contains(forgedEdge.Sources[0].Reason, "signature invalid") {
		t.Fatalf("the forged commit edge: %+v", forgedEdge)
	}
	if realEdge == nil || realEdge.Trust != lineage.TrustRecord || hasTrust(realEdge, lineage.OriginProvenance, lineage.TrustVerified) != nil {
		t.Fatalf("the real commit edge after tampering: %+v (Kiln's record stands; no verified provenance any more)", realEdge)
	}
	tree, _ := c.kiln("trace", "up", artifactRef(c.app))
	if !strings.Contains(tree, "UNVERIFIED provenance") {
		t.Fatalf("the tree hides the unverified edge:\n%s", tree)
	}
}

// tamperProvenance replaces the SLSA layer of ref's .att with one whose
// payload names forged instead of commit, keeping the old signature.
func tamperProvenance(t *testing.T, f *Factory, ref, commit, forged string) {
	t.Helper()
	repo, digest, _ := strings.Cut(ref, "@")
	opts := []remote.Option{remote.WithAuth(&authn.Basic{Username: "kiln", Password: f.AdminToken}),
		remote.WithTransport(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.caPool(), MinVersion: tls.VersionTLS12}}),
		remote.WithContext(context.Background())}
	tag, err := name.NewTag(repo + ":" + strings.Replace(digest, ":", "-", 1) + ".att")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(tag, opts...)
	if err != nil {
		t.Fatalf("reading %s: %v", tag, err)
	}
	var m map[string]any
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	for _, l := range m["layers"].([]any) {
		layer := l.(map[string]any)
		if layer["annotations"].(map[string]any)[attest.AnnotationPredicateType] != attest.PredicateSLSA {
			continue
		}
		forgedEnv := forgeEnvelope(t, tag.Context(), layer["digest"].(string), commit, forged, opts)
		h, size := pushBlob(t, tag.Context(), forgedEnv, opts)
		layer["digest"], layer["size"] = h.String(), size
	}
	raw, _ := json.Marshal(m)
	if err := remote.Put(tag, rawManifest{raw: raw, mt: types.MediaType(desc.MediaType)}, opts...); err != nil {
		t.Fatalf("pushing the tampered %s: %v", tag, err)
	}
}

func forgeEnvelope(t *testing.T, repo name.Repository, digest, commit, forged string, opts []remote.Option) []byte {
	t.Helper()
	l, err := remote.Layer(repo.Digest(digest), opts...)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var env map[string]any
	if err := json.NewDecoder(rc).Decode(&env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil || !bytes.Contains(payload, []byte(commit)) {
		t.Fatalf("provenance payload (%v) does not name %s", err, commit)
	}
	env["payload"] = base64.StdEncoding.EncodeToString(bytes.ReplaceAll(payload, []byte(commit), []byte(forged)))
	out, _ := json.Marshal(env)
	return out
}

func pushBlob(t *testing.T, repo name.Repository, data []byte, opts []remote.Option) (v1.Hash, int64) {
	t.Helper()
	l := static.NewLayer(data, types.MediaType(attest.MediaTypeDSSE))
	if err := remote.WriteLayer(repo, l, opts...); err != nil {
		t.Fatalf("pushing a blob: %v", err)
	}
	h, _ := l.Digest()
	return h, int64(len(data))
}

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }
