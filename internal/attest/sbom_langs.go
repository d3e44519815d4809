package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"

	"golang.org/x/mod/modfile"

	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// languageComponents reads dependency manifests at the top of the source
// directory: go.mod (Go modules) and package.json (npm packages, exact
// versions from package-lock.json when present). They are cheap to read and
// say what the build was meant to use; nothing is resolved over the network.
// They are read inside dir only: a manifest that is a link out of the
// repository is an error naming it.
func languageComponents(dir string) ([]component, error) {
	if dir == "" {
		return nil, nil
	}
	repo, err := tenantfs.Open(dir, "the repository")
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	goMods, err := goModules(repo)
	if err != nil {
		return nil, err
	}
	npm, err := npmPackages(repo)
	if err != nil {
		return nil, err
	}
	return append(goMods, npm...), nil
}

// Bounds of the manifests read.
const (
	maxManifest = 8 << 20
	maxLockfile = 64 << 20
)

// readOptional returns nil, nil when the file does not exist.
func readOptional(repo *tenantfs.Tree, name string, limit int64) ([]byte, error) {
	b, err := repo.ReadFile(name, limit)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the SBOM's dependencies: %w", err)
	}
	return b, nil
}

// goModules lists go.mod's requirements. Since Go 1.17 go.mod lists every
// module the main module's packages need, so this is the build list less
// test-only modules of dependencies.
func goModules(repo *tenantfs.Tree) ([]component, error) {
	b, err := readOptional(repo, "go.mod", maxManifest)
	if err != nil || b == nil {
		return nil, err
	}
	f, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		return nil, fmt.Errorf("reading go.mod: %w", err)
	}
	replaced := map[string]*modfile.Replace{}
	for _, r := range f.Replace {
		replaced[r.Old.Path] = r
	}
	out := make([]component, 0, len(f.Require))
	for i, r := range f.Require {
		c := component{id: fmt.Sprintf("Go-%d", i+1), kind: "golang", name: r.Mod.Path, version: r.Mod.Version,
			download: "NOASSERTION", purl: golangPURL(r.Mod.Path, r.Mod.Version), purpose: "LIBRARY", relation: relDependsOn}
		if r.Indirect {
			c.comment = "indirect"
		}
		if rep := replaced[r.Mod.Path]; rep != nil {
			c.comment = replacementComment(c.comment, rep)
			if rep.New.Version != "" {
				c.purl = golangPURL(rep.New.Path, rep.New.Version)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func replacementComment(prefix string, r *modfile.Replace) string {
	s := "replaced by " + r.New.Path
	if r.New.Version != "" {
		s += "@" + r.New.Version
	}
	if prefix != "" {
		s = prefix + "; " + s
	}
	return s
}

// packageJSON is the part of package.json read.
type packageJSON struct {
	Dependencies map[string]string `json:"dependencies"`
}

// packageLock is the part of package-lock.json read (lockfile v1, v2, v3).
type packageLock struct {
	Packages     map[string]struct{ Version string } `json:"packages"`
	Dependencies map[string]struct{ Version string } `json:"dependencies"`
}

var exactSemver = regexp.MustCompile(`^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$`)

// npmPackages lists package.json's runtime dependencies.
func npmPackages(repo *tenantfs.Tree) ([]component, error) {
	b, err := readOptional(repo, "package.json", maxManifest)
	if err != nil || b == nil {
		return nil, err
	}
	var pkg packageJSON
	if err := json.Unmarshal(b, &pkg); err != nil {
		return nil, fmt.Errorf("reading package.json: %w", err)
	}
	lock, err := readLock(repo)
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(pkg.Dependencies))
	out := make([]component, 0, len(names))
	for i, name := range names {
		spec := pkg.Dependencies[name]
		version := lock(name)
		if version == "" && exactSemver.MatchString(spec) {
			version = spec
		}
		c := component{id: fmt.Sprintf("Npm-%d", i+1), kind: "npm", name: name, version: version,
			download: "NOASSERTION", purl: npmPURL(name, version), purpose: "LIBRARY", relation: relDependsOn}
		if version == "" {
			c.comment = "declared as " + spec
		}
		out = append(out, c)
	}
	return out, nil
}

// readLock returns a lookup of locked versions by package name.
func readLock(repo *tenantfs.Tree) (func(string) string, error) {
	b, err := readOptional(repo, "package-lock.json", maxLockfile)
	if err != nil || b == nil {
		return func(string) string { return "" }, err
	}
	var l packageLock
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("reading package-lock.json: %w", err)
	}
	return func(name string) string {
		if p, ok := l.Packages["node_modules/"+name]; ok {
			return p.Version
		}
		return l.Dependencies[name].Version
	}, nil
}
