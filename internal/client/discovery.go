package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Resource is one served resource type, as told by discovery.
type Resource struct {
	Group        string
	Version      string
	Name         string // plural, as in the URL
	SingularName string
	Kind         string
	Namespaced   bool
	Verbs        []string
	ShortNames   []string
	// Subresources lists served subresources, e.g. "status".
	Subresources []string
}

// GroupVersion returns the apiVersion of the resource's objects: "v1" for
// the core group, "kiln.dev/v1alpha1" otherwise.
func (r Resource) GroupVersion() string {
	if r.Group == "" {
		return r.Version
	}
	return r.Group + "/" + r.Version
}

// GroupResource returns "plural" or "plural.group", as kubectl spells it in
// messages (components.kiln.dev).
func (r Resource) GroupResource() string {
	if r.Group == "" {
		return r.Name
	}
	return r.Name + "." + r.Group
}

// KindGroup returns the lower-case kind qualified by the group, as kubectl
// prints it: "namespace", "component.kiln.dev".
func (r Resource) KindGroup() string {
	k := strings.ToLower(r.Kind)
	if r.Group != "" {
		k += "." + r.Group
	}
	return k
}

// KindName returns how kubectl names an object of this resource in output:
// "namespace/foo", "component.kiln.dev/foo".
func (r Resource) KindName(name string) string { return r.KindGroup() + "/" + name }

// HasVerb reports whether discovery lists verb for the resource.
func (r Resource) HasVerb(verb string) bool { return slices.Contains(r.Verbs, verb) }

// Path returns the URL path of the collection (name empty) or of one
// object, optionally of a subresource. For namespaced resources an empty ns
// gives the all-namespaces collection.
func (r Resource) Path(ns, name string, subresource ...string) string {
	var b strings.Builder
	if r.Group == "" {
		b.WriteString("/api/" + r.Version)
	} else {
		b.WriteString("/apis/" + r.Group + "/" + r.Version)
	}
	if r.Namespaced && ns != "" {
		b.WriteString("/namespaces/" + pathEscape(ns))
	}
	b.WriteString("/" + r.Name)
	if name != "" {
		b.WriteString("/" + pathEscape(name))
	}
	for _, s := range subresource {
		b.WriteString("/" + s)
	}
	return b.String()
}

func pathEscape(s string) string { return strings.ReplaceAll(s, "/", "%2F") }

// APIGroupAliases maps API groups of compatible systems to the Kiln group
// serving the same kinds, so their manifests apply unchanged.
var APIGroupAliases = map[string]string{
	"appstudio.redhat.com": "kiln.dev",
}

// Discover returns every resource the server serves (core group first),
// asking the server once per Client.
func (c *Client) Discover(ctx context.Context) ([]Resource, error) {
	c.mu.Lock()
	cached := c.resources
	c.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	gvs, err := c.groupVersions(ctx)
	if err != nil {
		return nil, err
	}
	res := []Resource{}
	for _, gv := range gvs {
		rs, err := c.discoverGroupVersion(ctx, gv)
		if err != nil {
			return nil, err
		}
		res = append(res, rs...)
	}
	c.mu.Lock()
	c.resources = res
	c.mu.Unlock()
	return res, nil
}

// groupVersions returns the discovery paths to read: /api/v1, /apis/g/v...
func (c *Client) groupVersions(ctx context.Context) ([]string, error) {
	var paths []string
	var core metav1.APIVersions
	if err := c.getJSON(ctx, "/api", &core); err != nil && !IsNotFound(err) {
		return nil, fmt.Errorf("discover API versions: %w", err)
	}
	for _, v := range core.Versions {
		paths = append(paths, "/api/"+v)
	}
	var groups metav1.APIGroupList
	if err := c.getJSON(ctx, "/apis", &groups); err != nil && !IsNotFound(err) {
		return nil, fmt.Errorf("discover API groups: %w", err)
	}
	for _, g := range groups.Groups {
		gv := g.PreferredVersion.GroupVersion
		if gv == "" && len(g.Versions) > 0 {
			gv = g.Versions[0].GroupVersion
		}
		if gv != "" {
			paths = append(paths, "/apis/"+gv)
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("the server at %s serves no API groups: is it a Kiln server?", c.cfg.Server)
	}
	return paths, nil
}

func (c *Client) discoverGroupVersion(ctx context.Context, path string) ([]Resource, error) {
	var list metav1.APIResourceList
	if err := c.getJSON(ctx, path, &list); err != nil {
		return nil, fmt.Errorf("discover %s: %w", path, err)
	}
	group, version := splitGroupVersion(list.GroupVersion)
	if list.GroupVersion == "" {
		group, version = splitGroupVersion(strings.TrimPrefix(strings.TrimPrefix(path, "/apis/"), "/api/"))
	}
	var out []Resource
	for _, r := range list.APIResources {
		if strings.Contains(r.Name, "/") {
			continue
		}
		out = append(out, Resource{
			Group: group, Version: version, Name: r.Name, SingularName: r.SingularName,
			Kind: r.Kind, Namespaced: r.Namespaced, Verbs: r.Verbs, ShortNames: r.ShortNames,
		})
	}
	for _, r := range list.APIResources {
		parent, sub, ok := strings.Cut(r.Name, "/")
		if !ok {
			continue
		}
		for i := range out {
			if out[i].Name == parent {
				out[i].Subresources = append(out[i].Subresources, sub)
			}
		}
	}
	return out, nil
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	data, err := c.Do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("GET %s: unexpected response: %w", path, err)
	}
	return nil
}

func splitGroupVersion(gv string) (group, version string) {
	if g, v, ok := strings.Cut(gv, "/"); ok {
		return g, v
	}
	return "", gv
}

// ResolveResource finds the resource a user means by name: a plural
// (components), singular (component), short name (comp), kind (Component,
// any case) or plural.group (components.kiln.dev).
func (c *Client) ResolveResource(ctx context.Context, name string) (Resource, error) {
	res, err := c.Discover(ctx)
	if err != nil {
		return Resource{}, err
	}
	if r, ok := resolve(res, name); ok {
		return r, nil
	}
	return Resource{}, fmt.Errorf("the server doesn't have a resource type %q: list the known types with `kiln api-resources`", name)
}

func resolve(res []Resource, name string) (Resource, bool) {
	n := strings.ToLower(name)
	if r, ok := matchName(res, n, ""); ok {
		return r, true
	}
	// plural.group, singular.group, kind.group
	if base, group, ok := strings.Cut(n, "."); ok {
		if r, ok := matchName(res, base, group); ok {
			return r, true
		}
		if alias, ok := APIGroupAliases[group]; ok {
			return matchName(res, base, alias)
		}
	}
	return Resource{}, false
}

// matchName looks for n among plurals first, then singulars, short names
// and kinds, so the most specific spelling wins; group "" matches any.
func matchName(res []Resource, n, group string) (Resource, bool) {
	fields := []func(Resource) []string{
		func(r Resource) []string { return []string{r.Name} },
		func(r Resource) []string { return []string{r.SingularName} },
		func(r Resource) []string { return r.ShortNames },
		func(r Resource) []string { return []string{strings.ToLower(r.Kind)} },
	}
	for _, f := range fields {
		for _, r := range res {
			if group != "" && r.Group != group {
				continue
			}
			for _, s := range f(r) {
				if s != "" && strings.ToLower(s) == n {
					return r, true
				}
			}
		}
	}
	return Resource{}, false
}

// ResourceFor finds the resource serving objects of apiVersion and kind as
// written in a manifest. API groups in APIGroupAliases are mapped to Kiln's;
// use the returned resource's GroupVersion when sending the object.
func (c *Client) ResourceFor(ctx context.Context, apiVersion, kind string) (Resource, error) {
	res, err := c.Discover(ctx)
	if err != nil {
		return Resource{}, err
	}
	group, version := splitGroupVersion(apiVersion)
	if alias, ok := APIGroupAliases[group]; ok {
		group = alias
	}
	var served []string
	for _, r := range res {
		if r.Kind != kind {
			continue
		}
		if r.Group == group && r.Version == version {
			return r, nil
		}
		served = append(served, r.GroupVersion())
	}
	if len(served) > 0 {
		return Resource{}, fmt.Errorf("kind %s is not served in apiVersion %q: use apiVersion %s", kind, apiVersion, strings.Join(served, " or "))
	}
	return Resource{}, fmt.Errorf("the server has no kind %q in apiVersion %q: check the document's apiVersion and kind (see `kiln api-resources`)", kind, apiVersion)
}
