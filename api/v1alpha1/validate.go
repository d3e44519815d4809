package v1alpha1

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateObjectMeta checks the metadata every kind shares: metadata.name is
// present and a DNS-1123 subdomain (a DNS-1123 label for Namespaces),
// metadata.namespace is present exactly when the kind is namespaced, and
// labels, annotations (256 KiB in total), owner references and finalizers
// are well-formed.
func ValidateObjectMeta(k *Kind, obj Object) field.ErrorList {
	p := field.NewPath("metadata")
	errs := validateObjectName(k, p.Child("name"), obj.GetName())
	errs = append(errs, validateObjectNamespace(k, p.Child("namespace"), obj.GetNamespace())...)
	errs = append(errs, metav1validation.ValidateLabels(obj.GetLabels(), p.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(obj.GetAnnotations(), p.Child("annotations"))...)
	errs = append(errs, apivalidation.ValidateOwnerReferences(obj.GetOwnerReferences(), p.Child("ownerReferences"))...)
	return append(errs, apivalidation.ValidateFinalizers(obj.GetFinalizers(), p.Child("finalizers"))...)
}

func validateObjectName(k *Kind, p *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "every "+k.Kind+" needs a name")}
	}
	if k.Kind == "Namespace" {
		return dnsLabel(p, name)
	}
	return dnsSubdomain(p, name)
}

func validateObjectNamespace(k *Kind, p *field.Path, ns string) field.ErrorList {
	switch {
	case k.Namespaced && ns == "":
		return field.ErrorList{field.Required(p, k.Kind+" is namespaced: set metadata.namespace")}
	case !k.Namespaced && ns != "":
		return field.ErrorList{field.Forbidden(p, k.Kind+" is cluster-scoped: remove metadata.namespace")}
	case ns != "":
		return dnsLabel(p, ns)
	}
	return nil
}

// dnsLabel checks v is a DNS-1123 label (namespace names).
func dnsLabel(p *field.Path, v string) field.ErrorList {
	return messages(p, v, validation.IsDNS1123Label(v))
}

// dnsSubdomain checks v is a DNS-1123 subdomain (object names).
func dnsSubdomain(p *field.Path, v string) field.ErrorList {
	return messages(p, v, validation.IsDNS1123Subdomain(v))
}

func messages(p *field.Path, v string, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, m := range msgs {
		errs = append(errs, field.Invalid(p, v, m))
	}
	return errs
}

// refName checks a required reference to an object by name.
func refName(p *field.Path, name, kind string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "name of the "+kind)}
	}
	return dnsSubdomain(p, name)
}

// shortName checks that a name (of a kind, or a reference to one) fits
// a label value: at most 63 characters.
func shortName(p *field.Path, name, kind, use string) field.ErrorList {
	if len(name) <= MaxLabelValueLength {
		return nil
	}
	return field.ErrorList{field.Invalid(p, name, fmt.Sprintf("a %s name must be at most %d characters (this one has %d): %s — choose a shorter name",
		kind, MaxLabelValueLength, len(name), use))}
}

// namespaceName checks a required namespace name.
func namespaceName(p *field.Path, name, what string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, what)}
	}
	return dnsLabel(p, name)
}

// oneOf checks v is one of the allowed values.
func oneOf(p *field.Path, v string, allowed ...string) field.ErrorList {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	if v == "" {
		return field.ErrorList{field.Required(p, "one of "+strings.Join(allowed, ", "))}
	}
	return field.ErrorList{field.NotSupported(p, v, allowed)}
}

var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:.+$`)

const gitURLForms = "expected https://, ssh://, git@host:path or file://"

// validateGitURL checks a git remote URL Kiln can clone from.
func validateGitURL(p *field.Path, s string) field.ErrorList {
	if s == "" {
		return field.ErrorList{field.Required(p, "git URL: "+gitURLForms)}
	}
	if msg := gitURLProblem(s); msg != "" {
		return field.ErrorList{field.Invalid(p, s, msg)}
	}
	return nil
}

func gitURLProblem(s string) string {
	if strings.ContainsAny(s, " \t\r\n") {
		return "must not contain whitespace"
	}
	if !strings.Contains(s, "://") {
		if scpLike.MatchString(s) {
			return ""
		}
		return "not a git URL — " + gitURLForms
	}
	u, err := url.Parse(s)
	if err != nil {
		return "not a git URL — " + gitURLForms
	}
	return gitURLSchemeProblem(u)
}

func gitURLSchemeProblem(u *url.URL) string {
	switch u.Scheme {
	case "https", "ssh":
		if u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return "needs a host and a repository path, e.g. https://github.com/org/repo"
		}
	case "http":
		if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return "http:// is accepted only for localhost or 127.0.0.1 (local testing) — use https://"
		}
	case "file":
		if (u.Host != "" && u.Host != "localhost") || !path.IsAbs(u.Path) {
			return "file:// URLs need an absolute path, e.g. file:///srv/git/repo"
		}
	default:
		return "not a git URL — " + gitURLForms
	}
	return ""
}

// validateRelPath checks an optional path relative to a repository root.
func validateRelPath(p *field.Path, s string) field.ErrorList {
	if s == "" {
		return nil
	}
	if path.IsAbs(s) || strings.HasPrefix(s, `\`) {
		return field.ErrorList{field.Invalid(p, s, "must be relative to the repository root (no leading /)")}
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == ".." {
			return field.ErrorList{field.Invalid(p, s, `must not contain ".." (it must stay inside the repository)`)}
		}
	}
	return nil
}

// ImageReference is a parsed OCI image reference.
type ImageReference struct {
	// Repository is registry host (optional) and path, e.g. quay.io/org/app.
	Repository string
	// Tag, without the colon; may be empty.
	Tag string
	// Digest is "algorithm:hex", without the @; may be empty.
	Digest string
}

// String reassembles the reference.
func (r ImageReference) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

const (
	pathComponent   = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domainPart      = domainComponent + `(?:\.` + domainComponent + `)*(?::[0-9]+)?`
	repositoryPart  = `(?:` + domainPart + `/)?` + pathComponent + `(?:/` + pathComponent + `)*`
)

var (
	imageRefRE = regexp.MustCompile(`^(` + repositoryPart + `)(?::([\w][\w.-]{0,127}))?(?:@([a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+))?$`)
	sha256RE   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// ParseImageReference parses an OCI image reference:
// [host[:port]/]path[:tag][@algorithm:hex]. A sha256 digest must have 64
// lower-case hex digits.
func ParseImageReference(s string) (ImageReference, error) {
	m := imageRefRE.FindStringSubmatch(s)
	if m == nil || len(s) > 255+128+80 {
		return ImageReference{}, fmt.Errorf("not an image reference — expected [registry/]repository[:tag][@sha256:<64 hex digits>], lower-case")
	}
	ref := ImageReference{Repository: m[1], Tag: m[2], Digest: m[3]}
	if strings.HasPrefix(ref.Digest, "sha256:") && !sha256RE.MatchString(ref.Digest) {
		return ImageReference{}, fmt.Errorf("sha256 digest must be 64 lower-case hex digits")
	}
	return ref, nil
}

// validateParams checks that parameter names are present and unique.
func validateParams(p *field.Path, params []Param) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, prm := range params {
		np := p.Index(i).Child("name")
		switch {
		case prm.Name == "":
			errs = append(errs, field.Required(np, ""))
		case seen[prm.Name]:
			errs = append(errs, field.Duplicate(np, prm.Name))
		}
		seen[prm.Name] = true
	}
	return errs
}

// validateNonNegative checks an integer field is >= 0.
func validateNonNegative(p *field.Path, v int) field.ErrorList {
	if v < 0 {
		return field.ErrorList{field.Invalid(p, int64(v), "must be 0 or more")}
	}
	return nil
}

// reasonOr returns the reason of the named condition, or def when the
// condition is absent or has no reason.
func reasonOr(conds []metav1.Condition, typ, def string) string {
	for _, c := range conds {
		if c.Type == typ && c.Reason != "" {
			return c.Reason
		}
	}
	return def
}
