package openapi

import (
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/util"
)

// definitionName returns the name upstream gives the definition of a Go
// type, e.g. "io.k8s.api.core.v1.Pod": the type's OpenAPIModelName when it
// has one (every k8s.io/api and apimachinery type does), otherwise its
// package path turned into the REST-friendly form.
func definitionName(t reflect.Type) string {
	zero := reflect.New(t).Elem().Interface()
	if namer, ok := zero.(util.OpenAPIModelNamer); ok {
		return namer.OpenAPIModelName()
	}
	return util.ToRESTFriendlyName(util.GetCanonicalTypeName(zero))
}

// groupVersionPath is the URL prefix of a group-version without slashes at
// either end, "api/v1" for the core group and "apis/<group>/<version>"
// otherwise. It also keys the group-version in the OpenAPI v3 index.
func groupVersionPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// groupWords splits an API group into the words upstream builds operation
// ids and tags from: "" is "core", the ".k8s.io" suffix is dropped and the
// remaining dot-separated parts are words ("rbac.authorization.k8s.io" is
// rbac, authorization).
func groupWords(group string) []string {
	if group == "" {
		return []string{"core"}
	}
	return strings.Split(strings.TrimSuffix(group, ".k8s.io"), ".")
}

// operationPrefix is the group-version part of an operation id, e.g.
// "CoreV1", "AppsV1", "RbacAuthorizationV1".
func operationPrefix(gv schema.GroupVersion) string {
	var b strings.Builder
	for _, w := range groupWords(gv.Group) {
		b.WriteString(upperFirst(w))
	}
	b.WriteString(upperFirst(gv.Version))
	return b.String()
}

// tag is the OpenAPI tag upstream puts on the operations of a
// group-version, e.g. "core_v1", "rbacAuthorization_v1".
func tag(gv schema.GroupVersion) string {
	words := groupWords(gv.Group)
	var b strings.Builder
	b.WriteString(words[0])
	for _, w := range words[1:] {
		b.WriteString(upperFirst(w))
	}
	return b.String() + "_" + gv.Version
}

// upperFirst returns s with its first byte upper-cased; API group words
// and versions are ASCII.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
