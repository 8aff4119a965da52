package validation

import (
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

// minGitSourceInterval keeps a source from polling its remote in a loop.
const minGitSourceInterval = time.Second

// scpLike is git's "user@host:path" ssh form.
var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:.+$`)

func (v Validator) validateGitSource(g *berthv1alpha1.GitSource) field.ErrorList {
	errs := v.objectMeta(&g.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, validateGitSourceSpec(&g.Spec)...)
}

func validateGitSourceSpec(s *berthv1alpha1.GitSourceSpec) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateRepoURL(s.URL, specPath.Child("url"))...)
	if s.Ref != "" {
		if msg := refProblem(s.Ref); msg != "" {
			errs = append(errs, field.Invalid(specPath.Child("ref"), s.Ref, msg))
		}
	}
	if p := s.Path; p != "" {
		switch {
		case path.IsAbs(p) || strings.HasPrefix(p, "\\"):
			errs = append(errs, field.Invalid(specPath.Child("path"), p, "must be relative to the repository's root"))
		case path.Clean(p) == ".." || strings.HasPrefix(path.Clean(p), "../"):
			errs = append(errs, field.Invalid(specPath.Child("path"), p, "must not leave the repository (no '..')"))
		}
	}
	if s.Interval != nil && s.Interval.Duration < minGitSourceInterval {
		errs = append(errs, field.Invalid(specPath.Child("interval"), s.Interval.Duration.String(), "must be at least 1s"))
	}
	if n := s.ServiceAccountName; n != "" {
		for _, msg := range apimachineryvalidation.ValidateServiceAccountName(n, false) {
			errs = append(errs, field.Invalid(specPath.Child("serviceAccountName"), n, msg))
		}
	}
	if b := s.LiveBranch; b != "" {
		if msg := refProblem(b); msg != "" {
			errs = append(errs, field.Invalid(specPath.Child("liveBranch"), b, msg))
		} else if b == strings.TrimPrefix(s.Ref, "refs/heads/") {
			errs = append(errs, field.Invalid(specPath.Child("liveBranch"), b, "must differ from spec.ref: the live state must not overwrite the desired state"))
		}
	}
	if r := s.SecretRef; r != nil {
		if r.Name == "" {
			errs = append(errs, field.Required(specPath.Child("secretRef", "name"), ""))
		} else {
			for _, msg := range nameIsDNSSubdomain(r.Name, false) {
				errs = append(errs, field.Invalid(specPath.Child("secretRef", "name"), r.Name, msg))
			}
		}
	}
	if a := s.CommitStatusAPI; a != "" {
		if u, err := url.Parse(a); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, field.Invalid(specPath.Child("commitStatusAPI"), a, "must be an http or https URL, such as https://api.github.com"))
		}
	}
	return errs
}

// validateRepoURL accepts what gitsync can fetch: an absolute local path,
// file://, http(s)://, ssh:// and git's scp-like user@host:path.
func validateRepoURL(raw string, fld *field.Path) field.ErrorList {
	if raw == "" {
		return field.ErrorList{field.Required(fld, "a repository URL or absolute path is required")}
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return field.ErrorList{field.Invalid(fld, raw, "must not contain whitespace")}
	}
	if strings.HasPrefix(raw, "/") || scpLike.MatchString(raw) && !strings.Contains(raw, "://") {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return field.ErrorList{field.Invalid(fld, raw, "is not a URL: "+err.Error())}
	}
	switch u.Scheme {
	case "file":
		if u.Path == "" {
			return field.ErrorList{field.Invalid(fld, raw, "a file:// URL needs a path")}
		}
	case "http", "https", "ssh":
		if u.Host == "" {
			return field.ErrorList{field.Invalid(fld, raw, "needs a host")}
		}
		if _, set := u.User.Password(); set {
			return field.ErrorList{field.Invalid(fld, "(redacted)", "must not carry a password; put credentials in the Secret that spec.secretRef names")}
		}
	case "":
		return field.ErrorList{field.Invalid(fld, raw, "must be an absolute path, file://, https://, ssh:// or user@host:path")}
	default:
		return field.ErrorList{field.NotSupported(fld, u.Scheme+"://", []string{"file://", "http://", "https://", "ssh://"})}
	}
	return nil
}

// refProblem says why ref cannot name a branch, tag or commit ("" when it
// can), with git's rules for reference names.
func refProblem(ref string) string {
	name := ref
	if !strings.HasPrefix(name, "refs/") {
		name = "refs/heads/" + name
	}
	if err := plumbing.ReferenceName(name).Validate(); err != nil {
		return "is not a valid git branch, tag or commit: " + err.Error()
	}
	return ""
}
