package v1alpha1

import (
	"encoding/pem"
	"regexp"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Policy is what a Snapshot must satisfy to be released: Conforma's
// EnterpriseContractPolicy under a shorter name (the Konflux kind name is
// accepted as an alias when applying). A ReleasePlanAdmission names one.
type Policy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PolicySpec `json:"spec,omitempty"`
}

// PolicySpec is what the release team asks for.
type PolicySpec struct {
	// Description for humans.
	Description string `json:"description,omitempty"`
	// Name is a display name.
	Name string `json:"name,omitempty"`
	// PublicKey verifies image signatures and attestations: a PEM-encoded
	// public key. Optional: empty means Kiln's own signing key.
	PublicKey string `json:"publicKey,omitempty"`
	// Sources of policy rules and data. Required, at least one.
	Sources []PolicySource `json:"sources"`
}

// PolicySource is one set of rules, with its data and configuration.
type PolicySource struct {
	// Name of the source, for reports.
	Name string `json:"name,omitempty"`
	// Policy are locations of Rego policy bundles (e.g.
	// oci::quay.io/enterprise-contract/ec-release-policy:latest or
	// github.com/org/repo//policy). A source needs policy, rego or both.
	Policy []string `json:"policy,omitempty"`
	// Rego are Rego modules written inline (a Kiln addition to Conforma's
	// shape).
	Rego []RegoModule `json:"rego,omitempty"`
	// Data are locations of data the rules read (e.g. rule data bundles).
	Data []string `json:"data,omitempty"`
	// RuleData is free-form JSON (any object) exposed to the rules as
	// data.rule_data.
	RuleData map[string]any `json:"ruleData,omitempty"`
	// Config selects which rules apply.
	Config *PolicyConfig `json:"config,omitempty"`
}

// RegoModule is a Rego module written inline.
type RegoModule struct {
	// Name of the module, e.g. "no_latest.rego". Required; unique within
	// the source.
	Name string `json:"name"`
	// Module is the Rego source; it must declare a package. Required.
	Module string `json:"module"`
}

// PolicyConfig includes and excludes rules.
type PolicyConfig struct {
	// Include lists rules, packages or collections (e.g. "@minimal",
	// "@redhat") to apply; empty means all.
	Include []string `json:"include,omitempty"`
	// Exclude lists rules or packages to skip (e.g. "test.no_skipped").
	Exclude []string `json:"exclude,omitempty"`
}

var regoPackageRE = regexp.MustCompile(`(?m)^\s*package\s+[A-Za-z_][\w.]*`)

// Validate checks the spec.
func (p *Policy) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	if k := p.Spec.PublicKey; k != "" {
		if b, _ := pem.Decode([]byte(strings.TrimSpace(k))); b == nil || !strings.Contains(b.Type, "PUBLIC KEY") {
			errs = append(errs, field.Invalid(sp.Child("publicKey"), "<key>", "must be a PEM-encoded public key (-----BEGIN PUBLIC KEY-----)"))
		}
	}
	if len(p.Spec.Sources) == 0 {
		return append(errs, field.Required(sp.Child("sources"), "at least one source with policy or rego"))
	}
	for i, s := range p.Spec.Sources {
		errs = append(errs, validatePolicySource(sp.Child("sources").Index(i), s)...)
	}
	return errs
}

func validatePolicySource(p *field.Path, s PolicySource) field.ErrorList {
	var errs field.ErrorList
	if len(s.Policy) == 0 && len(s.Rego) == 0 {
		errs = append(errs, field.Required(p.Child("policy"), "a source needs policy locations, inline rego modules, or both"))
	}
	errs = append(errs, nonEmptyStrings(p.Child("policy"), s.Policy)...)
	errs = append(errs, nonEmptyStrings(p.Child("data"), s.Data)...)
	if s.Config != nil {
		errs = append(errs, nonEmptyStrings(p.Child("config", "include"), s.Config.Include)...)
		errs = append(errs, nonEmptyStrings(p.Child("config", "exclude"), s.Config.Exclude)...)
	}
	return append(errs, validateRego(p.Child("rego"), s.Rego)...)
}

func validateRego(p *field.Path, mods []RegoModule) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, m := range mods {
		mp := p.Index(i)
		switch {
		case m.Name == "":
			errs = append(errs, field.Required(mp.Child("name"), ""))
		case seen[m.Name]:
			errs = append(errs, field.Duplicate(mp.Child("name"), m.Name))
		}
		seen[m.Name] = true
		if !regoPackageRE.MatchString(m.Module) {
			errs = append(errs, field.Required(mp.Child("module"), `Rego source starting with a package declaration, e.g. "package kiln.custom"`))
		}
	}
	return errs
}

func nonEmptyStrings(p *field.Path, list []string) field.ErrorList {
	var errs field.ErrorList
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			errs = append(errs, field.Required(p.Index(i), "must not be empty"))
		}
	}
	return errs
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "Policy",
		Plural: "policies", Singular: "policy", ShortNames: []string{"pol", "ecp"},
		Namespaced: true,
		New:        func() Object { return &Policy{} },
		Columns: []Column{
			{Name: "Sources", Type: "integer", Value: func(o Object) string { return strconv.Itoa(len(o.(*Policy).Spec.Sources)) }},
			{Name: "Description", Type: "string", Priority: 1, Value: func(o Object) string { return o.(*Policy).Spec.Description }},
		},
	})
}
