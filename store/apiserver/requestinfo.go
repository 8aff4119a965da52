package apiserver

import (
	"net/http"
	"strings"
)

// RequestInfo is what a request asks for, parsed from its path and method
// the way kube-apiserver does it, so RBAC sees the same attributes.
type RequestInfo struct {
	// IsResource is false for /healthz, discovery and other plain paths.
	IsResource  bool
	Path        string
	Verb        string // get list watch create update patch delete deletecollection, or the HTTP method lower-cased for plain paths
	APIGroup    string
	APIVersion  string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
}

// namespaceSubresources are the subresources of a Namespace object, which
// must not be read as a resource inside the namespace.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// ParseRequestInfo reads r's path and method.
func ParseRequestInfo(r *http.Request) RequestInfo {
	info := RequestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	parts := splitPath(r.URL.Path)
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		info.APIVersion, parts = parts[1], parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		info.APIGroup, info.APIVersion, parts = parts[1], parts[2], parts[3:]
	default:
		return info
	}
	if len(parts) == 0 {
		return info
	}
	info.IsResource = true
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.Namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	info.Resource = parts[0]
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 {
		info.Subresource = parts[2]
	}
	watch := isTrue(r.URL.Query().Get("watch"))
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watch:
			info.Verb = "watch"
		case info.Name == "":
			info.Verb = "list"
		default:
			info.Verb = "get"
		}
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		info.Verb = "delete"
		if info.Name == "" {
			info.Verb = "deletecollection"
		}
	}
	return info
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func isTrue(s string) bool { return s == "true" || s == "1" }
