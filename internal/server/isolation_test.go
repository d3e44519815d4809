package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/apiserver/apitest"
)

// tenants sets up two users, each admin of their own tenant namespace with
// one object of every namespaced kind that can exist there.
func tenants(t *testing.T) (f *Factory, admin, alice, bob api) {
	t.Helper()
	f = testFactory(t, "")
	admin = api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	alice = api{t: t, base: f.URL, token: userToken(t, admin, "alice"), hc: f.HTTPClient()}
	bob = api{t: t, base: f.URL, token: userToken(t, admin, "bob"), hc: f.HTTPClient()}
	alice.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	bob.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-b"}})
	populate(t, bob, "team-b")
	return f, admin, alice, bob
}

func userToken(t *testing.T, admin api, user string) string {
	t.Helper()
	return apitest.UserToken(admin.client(), user)
}

// populate creates one object of most kinds in ns.
func populate(t *testing.T, a api, ns string) {
	a.must(201, "POST", nsPath(ns, "applications"), app("greet"))
	a.must(201, "POST", nsPath(ns, "components"), component("cli", "greet"))
	a.must(201, "POST", "/api/v1/namespaces/"+ns+"/secrets", map[string]any{"metadata": map[string]any{"name": "creds"}, "stringData": map[string]any{"k": "v"}})
	a.must(201, "POST", nsPath(ns, "serviceaccounts"), map[string]any{"metadata": map[string]any{"name": "ci"}})
	a.must(201, "POST", nsPath(ns, "integrationtestscenarios"), map[string]any{"metadata": map[string]any{"name": "smoke"},
		"spec": map[string]any{"application": "greet", "resolverRef": map[string]any{"resolver": "git", "params": []any{map[string]any{"name": "url", "value": "https://example.com/t.git"}}}}})
	a.must(201, "POST", nsPath(ns, "releaseplans"), map[string]any{"metadata": map[string]any{"name": "to-prod"},
		"spec": map[string]any{"application": "greet", "target": "managed-prod"}})
}

type resource struct {
	prefix     string // /api/v1 or /apis/kiln.dev/v1alpha1
	plural     string
	namespaced bool
	status     bool
}

// served lists every resource the API advertises.
func served(t *testing.T, a api) []resource {
	var out []resource
	for _, prefix := range []string{"/api/v1", kiln} {
		var list struct {
			Resources []struct {
				Name       string `json:"name"`
				Namespaced bool   `json:"namespaced"`
			} `json:"resources"`
		}
		_ = json.Unmarshal(a.must(200, "GET", prefix, nil).Body, &list)
		status := map[string]bool{}
		for _, r := range list.Resources {
			if base, ok := strings.CutSuffix(r.Name, "/status"); ok {
				status[base] = true
			}
		}
		for _, r := range list.Resources {
			if !strings.Contains(r.Name, "/") {
				out = append(out, resource{prefix: prefix, plural: r.Name, namespaced: r.Namespaced, status: status[r.Name]})
			}
		}
	}
	if len(out) < 12 {
		t.Fatalf("discovery lists only %d resources", len(out))
	}
	return out
}

// TestTenantIsolation walks the whole API surface as alice (admin of team-a)
// against bob's namespace team-b and expects denial everywhere.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	f, _, alice, bob := tenants(t)
	body := `{"metadata":{"name":"x"}}`
	checked := 0
	for _, r := range served(t, alice) {
		if !r.namespaced {
			continue
		}
		coll := r.prefix + "/namespaces/team-b/" + r.plural
		reqs := [][2]string{{"GET", coll}, {"GET", coll + "?watch=true"}, {"POST", coll},
			{"GET", coll + "/x"}, {"PUT", coll + "/x"}, {"PATCH", coll + "/x"}, {"DELETE", coll + "/x"},
			{"GET", coll + "/greet"}, {"GET", coll + "/creds"}, {"DELETE", coll + "/greet"},
			{"GET", coll + "/x/log"}, {"GET", coll + "/x/log?follow=true"},
			{"GET", coll + "/x/provenance"}, {"GET", coll + "/x/sbom"}, {"GET", coll + "/x/sbom?format=cyclonedx"}}
		if r.status {
			reqs = append(reqs, [2]string{"GET", coll + "/x/status"}, [2]string{"PUT", coll + "/x/status"}, [2]string{"PATCH", coll + "/x/status"})
		}
		for _, q := range reqs {
			res := alice.do(q[0], q[1], body, "Content-Type", "application/merge-patch+json")
			if res.Code != http.StatusForbidden {
				t.Errorf("alice %s %s: got %d, want 403: %s", q[0], q[1], res.Code, res.Body)
			}
			checked++
		}
	}
	for _, q := range [][2]string{{"GET", "/api/v1/namespaces/team-b"}, {"PUT", "/api/v1/namespaces/team-b"},
		{"PATCH", "/api/v1/namespaces/team-b"}, {"DELETE", "/api/v1/namespaces/team-b"}, {"GET", kiln + "/users/bob"},
		{"GET", kiln + "/users"}, {"POST", kiln + "/users"}} {
		if res := alice.do(q[0], q[1], body, "Content-Type", "application/merge-patch+json"); res.Code != http.StatusForbidden {
			t.Errorf("alice %s %s: got %d, want 403", q[0], q[1], res.Code)
		}
		checked++
	}
	checkTokensIsolated(t, alice, bob)
	checkAllNamespaceReadsFiltered(t, f, alice, bob)
	t.Logf("%d requests denied", checked)
}

func checkTokensIsolated(t *testing.T, alice, bob api) {
	for _, subject := range []string{"bob", "system:serviceaccount:team-b:ci", "admin"} {
		if r := alice.do("POST", kiln+"/tokenrequests", map[string]any{"subject": subject}); r.Code != http.StatusForbidden {
			t.Errorf("alice got a token for %s: %d %s", subject, r.Code, r.Body)
		}
	}
	bobs := bob.must(200, "GET", kiln+"/tokens", nil)
	var list struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
		} `json:"items"`
	}
	_ = json.Unmarshal(bobs.Body, &list)
	if len(list.Items) == 0 {
		t.Fatal("bob sees none of his tokens")
	}
	if strings.Contains(string(bobs.Body), `"hash"`) {
		t.Error("token hashes are returned by the API")
	}
	aliceView := alice.must(200, "GET", kiln+"/tokens", nil)
	if strings.Contains(string(aliceView.Body), list.Items[0].Metadata.Name) {
		t.Error("alice can list bob's tokens")
	}
	if r := alice.do("DELETE", kiln+"/tokens/"+list.Items[0].Metadata.Name, nil); r.Code != http.StatusForbidden {
		t.Errorf("alice revoking bob's token: %d", r.Code)
	}
}

// checkAllNamespaceReadsFiltered: lists and watches across namespaces show
// alice nothing of team-b, even while bob writes there.
func checkAllNamespaceReadsFiltered(t *testing.T, f *Factory, alice, bob api) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	seen := make(chan string, 64)
	for _, p := range []string{kiln + "/applications", "/api/v1/secrets", "/api/v1/namespaces", kiln + "/components"} {
		go watchNamespaces(ctx, alice.hc, f.URL+p+"?watch=true", alice.token, seen)
	}
	time.Sleep(200 * time.Millisecond)
	bob.must(201, "POST", nsPath("team-b", "applications"), app("new-b"))
	alice.must(201, "POST", nsPath("team-a", "applications"), app("new-a"))
	sawA := false
	for done := false; !done; {
		select {
		case ns := <-seen:
			if ns == "team-b" {
				t.Fatal("alice's all-namespace watch delivered a team-b event")
			}
			sawA = sawA || ns == "team-a"
		case <-time.After(700 * time.Millisecond):
			done = true
		}
	}
	if !sawA {
		t.Error("alice's all-namespace watch missed her own event (the filter is too strict)")
	}
	for _, p := range []string{kiln + "/applications", kiln + "/components", "/api/v1/secrets", kiln + "/releaseplans", "/api/v1/namespaces"} {
		if r := alice.must(200, "GET", p, nil); strings.Contains(string(r.Body), "team-b") {
			t.Errorf("alice's list %s shows team-b: %s", p, r.Body)
		}
	}
}

func watchNamespaces(ctx context.Context, hc *http.Client, url, token string, out chan<- string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := hc.Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		out <- fmt.Sprintf("status-%d", res.StatusCode)
		return
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Object struct {
				Metadata struct{ Name, Namespace string } `json:"metadata"`
				Kind     string                           `json:"kind"`
			} `json:"object"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			ns := ev.Object.Metadata.Namespace
			if ev.Object.Kind == "Namespace" {
				ns = ev.Object.Metadata.Name
			}
			out <- ns
		}
	}
}
