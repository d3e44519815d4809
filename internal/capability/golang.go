package capability

import (
	"path"
	"strings"

	"golang.org/x/mod/modfile"
)

// detectGo reads go.mod: the module line provides golang(<path>), every
// require (direct or indirect) requires golang(<path>), except modules
// replaced by a directory inside the tree.
func detectGo(c *collector) (bool, error) {
	const file = "go.mod"
	data, ok, err := c.read(file)
	if !ok {
		return false, err
	}
	f, err := modfile.Parse(file, data, nil)
	if err != nil {
		return true, err // modfile errors already read "go.mod:3: ..."
	}
	if f.Module == nil {
		return true, &Error{File: file, Msg: "no module line"}
	}
	c.provide(goCap(f.Module.Mod.Path), at(file, f.Module.Syntax.Start.Line))
	for _, r := range f.Require {
		if replacedInTree(f.Replace, r) {
			continue
		}
		c.buildReq(Requirement{Any: []string{goCap(r.Mod.Path)}, Source: at(file, r.Syntax.Start.Line)})
	}
	return true, nil
}

func goCap(modulePath string) string { return "golang(" + modulePath + ")" }

// replacedInTree says whether the replace directive that applies to r (one
// for r's exact version wins over one for all versions) points at a
// directory inside the tree.
func replacedInTree(reps []*modfile.Replace, r *modfile.Require) bool {
	var match *modfile.Replace
	for _, rep := range reps {
		if rep.Old.Path != r.Mod.Path {
			continue
		}
		if rep.Old.Version == r.Mod.Version {
			match = rep
			break
		}
		if rep.Old.Version == "" {
			match = rep
		}
	}
	return match != nil && match.New.Version == "" && insideTree(match.New.Path)
}

// insideTree says whether a relative directory path stays inside the tree
// rooted at the manifest's directory. Absolute paths count as outside.
func insideTree(dir string) bool {
	dir = strings.ReplaceAll(dir, `\`, "/")
	if path.IsAbs(dir) || (len(dir) > 1 && dir[1] == ':') {
		return false
	}
	p := path.Clean(dir)
	return p != ".." && !strings.HasPrefix(p, "../")
}
