package capability

import (
	"bytes"
	"errors"
	"slices"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/debian"
)

// NocheckParam is the component build parameter that selects Debian's
// nocheck build profile ("true"): test-only build dependencies
// (<!nocheck>) are then not required.
const NocheckParam = "nocheck"

// ComponentOptions are the detection options for comp: its name, the
// Debian build profiles its build parameters select (nocheck=true →
// ["nocheck"]), and, for a component built by a packaging pipeline
// (debian, rpm), that format's detector only.
func ComponentOptions(comp *v1alpha1.Component) Options {
	opts := Options{Names: []string{comp.Name}}
	if comp.Spec.Build == nil {
		return opts
	}
	switch p := comp.Spec.Build.PipelineRef; p {
	case "debian", "rpm":
		opts.Only = []string{p}
	}
	for _, p := range comp.Spec.Build.Params {
		if p.Name == NocheckParam && p.Value == "true" {
			opts.DebianProfiles = append(opts.DebianProfiles, "nocheck")
		}
	}
	return opts
}

// detectDebian reads debian/control: binary packages built on the target
// architecture provide deb(<package>) and deb(<each Provides: name>);
// Build-Depends, -Arch and -Indep, evaluated for the architecture and build
// profiles of opts, are requirements deb(<name>), alternatives as Any.
func detectDebian(c *collector) (bool, error) {
	data, ok, err := c.read(debian.ControlFile)
	if !ok {
		return false, err
	}
	ctl, err := debian.ParseControl(bytes.NewReader(data))
	if err != nil {
		return true, debianError(err)
	}
	arch := c.opts.DebianArch
	if arch == "" {
		arch = debian.HostArch()
	}
	profiles := slices.Clip(c.opts.DebianProfiles)
	for _, b := range ctl.Binaries {
		if b.Built(arch, profiles) {
			debianProvides(c, b)
		}
	}
	for _, r := range ctl.Source.BuildDepends(arch, profiles) {
		c.buildReq(Requirement{Any: debNames(r.Alternatives), Source: at(debian.ControlFile, r.Line)})
	}
	return true, nil
}

// debianProvides adds what one binary package provides.
func debianProvides(c *collector, b debian.Binary) {
	c.provide(debCap(b.Package), at(debian.ControlFile, b.Line))
	for _, r := range b.Provides {
		for _, d := range r.Alternatives {
			c.provide(debCap(d.Name), at(debian.ControlFile, r.Line))
		}
	}
}

// debNames is the capabilities of a relation's alternatives, duplicates
// dropped (a | a:native).
func debNames(alts []debian.Dep) []string {
	var out []string
	for _, d := range alts {
		if n := debCap(d.Name); !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func debCap(name string) string { return "deb(" + name + ")" }

// debianError converts a control file syntax error into this package's
// Error (file:line: msg).
func debianError(err error) error {
	if se := (*debian.SyntaxError)(nil); errors.As(err, &se) {
		return &Error{File: se.File, Line: se.Line, Msg: se.Msg}
	}
	return err
}
