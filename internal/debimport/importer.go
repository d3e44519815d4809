package debimport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/debian"
)

// PipelineRef is the catalog pipeline imported components build with.
const PipelineRef = "debian"

// BaseComponent is the component whose image is the base buildroot of the
// debian pipeline (its base param's default), which imported components
// require.
const BaseComponent = "debian-base"

// Annotations recorded on imported components.
const (
	AnnotationSource  = "debian.kiln.dev/source"  // the source package name
	AnnotationVersion = "debian.kiln.dev/version" // the imported version
	AnnotationArchive = "debian.kiln.dev/archive" // "URL suite/component"
)

// Options are the inputs of one import.
type Options struct {
	Packages  []string // source package names
	Archive   Archive
	Dir       string // the repositories' parent directory
	Namespace string
	App       string
	Nocheck   bool     // build with the nocheck profile (component param nocheck=true)
	Profiles  []string // further build profiles (component param profiles)
	Log       io.Writer
	// Apply creates or updates the objects through the API, in order.
	Apply func(ctx context.Context, objs []client.Object) error
}

// Result is what happened to one package.
type Result struct {
	Package   string
	Component string
	Version   string // the archive's version, now at the repository's HEAD
	Previous  string // the version before; "" for a new repository
	Repo      string
	Commit    string
	Changed   bool // a new commit was made
	// Stage1 are the build dependencies the stage1 build profile drops
	// (e.g. "libb-dev <!stage1>"): the component then gets bootstrap
	// params selecting it, for the dependency cycles they close.
	Stage1 []string
}

// plan is one package's import.
type plan struct {
	Result
	src     *SourcePackage
	state   repoState
	current bool   // the repository is at the archive's version already
	tree    string // the unpacked tree, once fetched
}

// Run imports the packages: it checks every repository and looks every
// package up, downloads and verifies all of them, unpacks them, and only
// then commits each and applies the objects, so an unknown package, an
// unreachable archive or a bad checksum leaves nothing changed.
func Run(ctx context.Context, o Options) ([]Result, error) {
	plans, err := o.prepare(ctx)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(o.Dir, ".import-")
	if err != nil {
		return nil, fmt.Errorf("creating a work directory under %s: %w", o.Dir, err)
	}
	defer os.RemoveAll(work)
	for _, p := range plans {
		if err := o.fetch(ctx, p, work); err != nil {
			return nil, fmt.Errorf("%w; nothing was imported", err)
		}
		if err := o.readStage1(ctx, p); err != nil {
			return nil, fmt.Errorf("%s: %w; nothing was imported", p.Package, err)
		}
	}
	var results []Result
	for _, p := range plans {
		if err := o.commit(ctx, p); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Package, err)
		}
		results = append(results, p.Result)
	}
	if err := o.Apply(ctx, o.objects(plans)); err != nil {
		return results, fmt.Errorf("applying the application and components (the repositories are committed; run the import again to apply): %w", err)
	}
	return results, nil
}

// prepare validates the names, inspects the repositories and looks the
// packages up in the archive.
func (o *Options) prepare(ctx context.Context) ([]*plan, error) {
	names, err := o.checkNames()
	if err != nil {
		return nil, err
	}
	if err := checkProfiles(o.Profiles); err != nil {
		return nil, err
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", o.Dir, err)
	}
	var plans []*plan
	for _, n := range names {
		p := &plan{Result: Result{Package: n, Component: componentName(n), Repo: filepath.Join(o.Dir, n+".git")}}
		if p.state, err = inspectRepo(ctx, p.Repo); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		p.Previous = p.state.version
		plans = append(plans, p)
	}
	return plans, o.lookup(ctx, plans)
}

// profileName is a build profile's name (lower case, as dpkg's are).
var profileName = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*$`)

// checkProfiles refuses profile names dpkg-buildpackage would not take,
// before anything is fetched.
func checkProfiles(profiles []string) error {
	for _, p := range profiles {
		if !profileName.MatchString(p) {
			return fmt.Errorf("--profiles: %q is not a build profile name (lower-case letters, digits, '.', '+' and '-', e.g. nobiarch); nothing was imported", p)
		}
	}
	return nil
}

// checkNames refuses invalid names and component name clashes.
func (o *Options) checkNames() ([]string, error) {
	if len(o.Packages) == 0 {
		return nil, fmt.Errorf("name at least one source package")
	}
	seen := map[string]string{}
	var names []string
	for _, n := range o.Packages {
		if !debian.ValidPackageName(n) {
			return nil, fmt.Errorf("%q is not a Debian source package name (lower-case letters, digits, '+', '-', '.')", n)
		}
		c := componentName(n)
		if prev, dup := seen[c]; dup {
			if prev == n {
				continue
			}
			return nil, fmt.Errorf("%s and %s would both be component %s", prev, n, c)
		}
		if len(c) > 63 {
			return nil, fmt.Errorf("%s: component name %s is longer than 63 characters", n, c)
		}
		seen[c] = n
		names = append(names, n)
	}
	return names, nil
}

// componentName maps a source package name to a DNS label: '+' is "plus",
// '.' is '-'.
func componentName(pkg string) string {
	return strings.NewReplacer("+", "plus", ".", "-").Replace(pkg)
}

// lookup finds every package in the archive and decides what to fetch.
func (o *Options) lookup(ctx context.Context, plans []*plan) error {
	names := make([]string, len(plans))
	for i, p := range plans {
		names[i] = p.Package
	}
	found, unknown, err := o.Archive.Lookup(ctx, names)
	if err != nil {
		return fmt.Errorf("importing %s: %w; nothing was imported", strings.Join(names, ", "), err)
	}
	if len(unknown) > 0 {
		return fmt.Errorf("unknown source package %s: not in %s (use source package names, e.g. from `apt-cache showsrc BINARY`); nothing was imported", unknownList(unknown), o.Archive.where())
	}
	for _, p := range plans {
		p.src = found[p.Package]
		p.Version = p.src.Version
		if err := o.checkVersion(p); err != nil {
			return err
		}
	}
	return nil
}

// unknownList names the unknown packages, with the source of those that
// are binary packages: "libc6 (a binary package of source glibc)".
func unknownList(unknown []Unknown) string {
	var parts []string
	for _, u := range unknown {
		if u.BinaryOf != "" {
			parts = append(parts, fmt.Sprintf("%s (a binary package of source %s: import %s)", u.Name, u.BinaryOf, u.BinaryOf))
			continue
		}
		parts = append(parts, u.Name)
	}
	return strings.Join(parts, ", ")
}

// checkVersion refuses to go back to an older version.
func (o *Options) checkVersion(p *plan) error {
	if p.Previous == "" {
		return nil
	}
	c, err := debian.CompareVersions(p.Version, p.Previous)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Package, err)
	}
	if c < 0 {
		return fmt.Errorf("%s: the archive has %s, older than %s in %s: not importing (nothing was imported)", p.Package, p.Version, p.Previous, p.Repo)
	}
	p.current = c == 0
	return nil
}

// fetch downloads, verifies and unpacks a package that is not at the
// archive's version yet.
func (o *Options) fetch(ctx context.Context, p *plan, work string) error {
	if p.current {
		fmt.Fprintf(o.Log, "%s %s: already imported, nothing to fetch\n", p.Package, p.Version)
		return nil
	}
	dir := filepath.Join(work, p.Package)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "fetching %s %s from %s\n", p.Package, p.Version, o.Archive.where())
	dsc, err := o.Archive.Download(ctx, p.src, dir)
	if err != nil {
		return err
	}
	p.tree = filepath.Join(work, p.Package+".tree")
	return unpack(ctx, p.Package, dsc, p.tree)
}

// unpack runs dpkg-source -x (which checks the .dsc's checksums again and
// applies the patches of a 3.0 (quilt) package).
func unpack(ctx context.Context, pkg, dsc, dest string) error {
	cmd := exec.CommandContext(ctx, "dpkg-source", "--no-copy", "-x", dsc, dest)
	cmd.Dir = filepath.Dir(dsc)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: dpkg-source -x %s: %w\n%s", pkg, filepath.Base(dsc), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// BootstrapProfile is the Debian build profile of a bootstrap build: the
// first build of a dependency cycle's member whose build dependencies on
// the others are restricted to <!stage1>.
const BootstrapProfile = "stage1"

// readStage1 reads debian/control (of the unpacked tree, or of the
// repository when the package is not fetched again) for the build
// dependencies BootstrapProfile drops, with nocheck active if the
// components build with it, on any architecture.
func (o *Options) readStage1(ctx context.Context, p *plan) error {
	var data []byte
	var err error
	if p.tree != "" {
		data, err = os.ReadFile(filepath.Join(p.tree, "debian", "control"))
	} else {
		var out string
		out, err = git(ctx, p.Repo, "show", p.state.head+":debian/control")
		data = []byte(out)
	}
	if err != nil {
		return fmt.Errorf("reading debian/control: %w", err)
	}
	c, err := debian.ParseControl(bytes.NewReader(data))
	if err != nil {
		return err
	}
	var active []string
	if o.Nocheck {
		active = []string{"nocheck"}
	}
	for _, r := range c.Source.DroppedBy("", active, BootstrapProfile) {
		p.Stage1 = append(p.Stage1, r.String())
	}
	return nil
}

// commit records the unpacked tree in the package's repository.
func (o *Options) commit(ctx context.Context, p *plan) error {
	if p.tree == "" {
		p.Commit = p.state.head
		return nil
	}
	msg := fmt.Sprintf("Import %s %s from %s\n\nDownloaded from %s/%s/%s, verified against the signed\nSources index of %s.\n",
		p.Package, p.Version, o.Archive.Suite, strings.TrimRight(o.Archive.URL, "/"), p.src.Directory, p.src.dsc().Name, o.Archive.where())
	commit, changed, err := commitTree(ctx, p.Repo, p.tree, p.state.head, msg, versionTag(p.Version))
	p.Commit, p.Changed = commit, changed
	return err
}

// objects are the Application and one Component per package.
func (o *Options) objects(plans []*plan) []client.Object {
	objs := []client.Object{{
		"apiVersion": "kiln.dev/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": o.App, "namespace": o.Namespace},
		"spec":     map[string]any{"description": fmt.Sprintf("Debian source packages imported from %s", o.Archive.where())},
	}}
	for _, p := range plans {
		objs = append(objs, o.component(p))
	}
	return objs
}

// component is the Component of one package.
func (o *Options) component(p *plan) client.Object {
	// The debian pipeline builds in a buildroot composed on the base
	// buildroot component (docs/distro.md): a requirement, so the planner
	// builds it first and pins its image.
	build := map[string]any{"pipelineRef": PipelineRef, "requires": []any{BaseComponent}}
	var params []any
	if o.Nocheck {
		params = append(params, map[string]any{"name": "nocheck", "value": "true"})
	}
	if len(o.Profiles) > 0 {
		params = append(params, map[string]any{"name": "profiles", "value": strings.Join(o.Profiles, " ")})
	}
	if params != nil {
		build["params"] = params
	}
	if len(p.Stage1) > 0 {
		// A cycle's first build without the <!stage1> dependencies: the
		// debian pipeline adds its profiles to nocheck's, so a nocheck
		// component's bootstrap build is "nocheck stage1"; the bootstrap
		// params replace the profiles param, so they repeat --profiles.
		profiles := strings.Join(append(slices.Clone(o.Profiles), BootstrapProfile), " ")
		build["bootstrap"] = map[string]any{"params": []any{map[string]any{"name": "profiles", "value": profiles}}}
	}
	return client.Object{
		"apiVersion": "kiln.dev/v1alpha1", "kind": "Component",
		"metadata": map[string]any{
			"name": p.Component, "namespace": o.Namespace,
			"annotations": map[string]any{
				AnnotationSource: p.Package, AnnotationVersion: p.Version,
				AnnotationArchive: strings.TrimRight(o.Archive.URL, "/") + " " + o.Archive.Suite + "/" + o.Archive.Component,
			},
		},
		"spec": map[string]any{
			"application": o.App,
			"source":      map[string]any{"git": map[string]any{"url": "file://" + p.Repo, "revision": "main"}},
			"build":       build,
		},
	}
}
