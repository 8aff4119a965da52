// Package openapi builds and serves the OpenAPI documents of the API server:
// /openapi/v2 (JSON and the protobuf kubectl asks for) and /openapi/v3 (an
// index plus one document per group-version), as kube-apiserver does, so
// that an unmodified kubectl can explain, validate and compute strategic
// merge patches for every served kind.
//
// Upstream generates its schemas from Go source comments; berth cannot
// import those generated definitions (k8s.io/kubernetes), so the schemas
// are built by reflection over the k8s.io/api Go types: names from
// OpenAPIModelName, descriptions from SwaggerDoc, required fields from
// omitempty, patch strategies from struct tags, and list and map types from
// client-go's structured-merge-diff schema.
package openapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/openapiconv"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Kind describes one served resource.
type Kind struct {
	// GVK is the group, version and kind of Object.
	GVK schema.GroupVersionKind
	// Resource is the plural resource name in URLs, e.g. "pods".
	Resource string
	// Namespaced resources live under /namespaces/{namespace}/.
	Namespaced bool
	// Object is a zero value of the Go type, e.g. &corev1.Pod{}.
	Object runtime.Object
	// List is a zero value of the list type, e.g. &corev1.PodList{}; it
	// may be nil for a kind that cannot be listed (TokenReview).
	List runtime.Object
	// Verbs are the discovery verbs served: get list watch create update
	// patch delete deletecollection.
	Verbs []string
	// Subresources served, e.g. "status", "scale", "binding", "eviction",
	// "log", "token", "finalize", "approval", "ephemeralcontainers",
	// "resize", "exec", "attach", "portforward".
	Subresources []string
}

// Document holds the OpenAPI documents of a set of kinds. They are built by
// New and encoded on first request; the encodings are kept. It is safe for
// concurrent use.
type Document struct {
	modified time.Time
	v2       *document
	v3       map[string]*document // by group-version path, "apis/apps/v1"
	index    func() (encoded, error)
}

// info is the info object of every document.
var info = &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: "unversioned"}}

// bearerToken is the security scheme every document declares.
const bearerToken = "BearerToken"

// New builds the OpenAPI v2 document and one OpenAPI v3 document per
// group-version of kinds. It fails when a kind is malformed, names an
// unknown verb or subresource, or has a Go type without an OpenAPI form.
func New(kinds []Kind) (*Document, error) {
	merge, err := loadMergeSchema()
	if err != nil {
		return nil, err
	}
	groupVersions, err := collect(kinds)
	if err != nil {
		return nil, err
	}
	kindsOf := map[reflect.Type][]schema.GroupVersionKind{}
	for _, g := range groupVersions {
		for t, gvks := range g.kinds {
			kindsOf[t] = appendNew(kindsOf[t], gvks...)
		}
	}

	d := &Document{modified: time.Now(), v3: map[string]*document{}}
	swagger, err := buildV2(groupVersions, merge, kindsOf)
	if err != nil {
		return nil, err
	}
	d.v2 = newDocument(swagger, d.modified, v2Protobuf)
	for _, g := range groupVersions {
		doc, err := buildV3(g, merge, kindsOf)
		if err != nil {
			return nil, err
		}
		d.v3[groupVersionPath(g.gv)] = newDocument(doc, d.modified, handler3.ToV3ProtoBinary)
	}
	d.index = sync.OnceValues(d.buildIndex)
	return d, nil
}

// collect groups the operations of kinds by group-version, in a stable
// order.
func collect(kinds []Kind) ([]*groupVersionPaths, error) {
	byGV := map[schema.GroupVersion]*groupVersionPaths{}
	for _, k := range kinds {
		gv := k.GVK.GroupVersion()
		g, ok := byGV[gv]
		if !ok {
			g = newGroupVersionPaths(gv)
			byGV[gv] = g
		}
		if err := g.addKind(k); err != nil {
			return nil, err
		}
	}
	out := make([]*groupVersionPaths, 0, len(byGV))
	for _, g := range byGV {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return groupVersionPath(out[i].gv) < groupVersionPath(out[j].gv) })
	return out, nil
}

// buildV2 is the one OpenAPI v2 document of all group-versions.
func buildV2(groupVersions []*groupVersionPaths, merge *mergeSchema, kindsOf map[reflect.Type][]schema.GroupVersionKind) (*spec.Swagger, error) {
	defs := newDefinitions(swagger2, merge)
	paths := map[string]spec.PathItem{}
	for _, g := range groupVersions {
		if err := defs.addRoots(g.roots, kindsOf); err != nil {
			return nil, err
		}
		for p, item := range g.paths {
			paths[p] = item
		}
	}
	paths, params := shareParameters(paths)
	return &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        info,
		Paths:       &spec.Paths{Paths: paths},
		Definitions: defs.defs,
		Parameters:  params,
		SecurityDefinitions: spec.SecurityDefinitions{bearerToken: &spec.SecurityScheme{SecuritySchemeProps: spec.SecuritySchemeProps{
			Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication",
		}}},
		Security: []map[string][]string{{bearerToken: {}}},
	}}, nil
}

// buildV3 is the OpenAPI v3 document of one group-version: its paths and
// the definitions they reach.
func buildV3(g *groupVersionPaths, merge *mergeSchema, kindsOf map[reflect.Type][]schema.GroupVersionKind) (*spec3.OpenAPI, error) {
	defs := newDefinitions(openAPIV3, merge)
	if err := defs.addRoots(g.roots, kindsOf); err != nil {
		return nil, err
	}
	schemas := make(map[string]*spec.Schema, len(defs.defs))
	for name := range defs.defs {
		s := defs.defs[name]
		schemas[name] = &s
	}
	paths := openapiconv.ConvertPaths(&spec.Paths{Paths: g.paths})
	markRequiredBodies(g.paths, paths)
	return &spec3.OpenAPI{
		Version: "3.0.0",
		Info:    info,
		Paths:   paths,
		Components: &spec3.Components{
			Schemas: schemas,
			SecuritySchemes: spec3.SecuritySchemes{bearerToken: &spec3.SecurityScheme{SecuritySchemeProps: spec3.SecuritySchemeProps{
				Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication",
			}}},
		},
		SecurityRequirement: []map[string][]string{{bearerToken: {}}},
	}, nil
}

// shareParameters moves the parameters of paths to the document's
// parameters section, as upstream's v2 document does, and refers to them
// from the operations: the same dozen descriptions of list and delete
// options would otherwise be repeated for every operation. It returns new
// path items and leaves paths untouched.
func shareParameters(paths map[string]spec.PathItem) (map[string]spec.PathItem, map[string]spec.Parameter) {
	shared := map[string]spec.Parameter{}
	refer := func(params []spec.Parameter) []spec.Parameter {
		if params == nil {
			return nil
		}
		out := make([]spec.Parameter, len(params))
		for i, p := range params {
			key := parameterKey(p)
			shared[key] = p
			out[i] = spec.Parameter{Refable: spec.Refable{Ref: spec.MustCreateRef("#/parameters/" + key)}}
		}
		return out
	}
	out := make(map[string]spec.PathItem, len(paths))
	for path, item := range paths {
		item.Parameters = refer(item.Parameters)
		for _, op := range []**spec.Operation{&item.Get, &item.Put, &item.Post, &item.Patch, &item.Delete} {
			if *op == nil {
				continue
			}
			copied := **op
			copied.Parameters = refer(copied.Parameters)
			*op = &copied
		}
		out[path] = item
	}
	return out, shared
}

// parameterKey names parameter p in the parameters section: its name and a
// hash of the rest, so that parameters of one name that differ (a body of
// another type, another description) get their own entries.
func parameterKey(p spec.Parameter) string {
	b, err := json.Marshal(p)
	if err != nil {
		// A parameter is strings and booleans; it always marshals.
		b = []byte(fmt.Sprint(p))
	}
	sum := sha256.Sum256(b)
	return p.Name + "-" + base64.RawURLEncoding.EncodeToString(sum[:6])
}

// markRequiredBodies marks the request bodies of v3 operations required
// where their v2 body parameter is; the conversion drops that.
func markRequiredBodies(v2 map[string]spec.PathItem, v3 *spec3.Paths) {
	for path, item := range v2 {
		converted := v3.Paths[path]
		pairs := []struct {
			v2 *spec.Operation
			v3 *spec3.Operation
		}{
			{item.Post, converted.Post}, {item.Put, converted.Put}, {item.Patch, converted.Patch}, {item.Delete, converted.Delete},
		}
		for _, p := range pairs {
			if p.v2 == nil || p.v3 == nil || p.v3.RequestBody == nil {
				continue
			}
			for _, param := range p.v2.Parameters {
				if param.In == "body" {
					p.v3.RequestBody.Required = param.Required
				}
			}
		}
	}
}

// addRoots defines roots and all they reach, and marks the definitions of
// served kinds with x-kubernetes-group-version-kind.
func (d *definitions) addRoots(roots []reflect.Type, kindsOf map[reflect.Type][]schema.GroupVersionKind) error {
	for _, t := range roots {
		name, err := d.add(t)
		if err != nil {
			return err
		}
		gvks := kindsOf[t]
		if len(gvks) == 0 {
			continue
		}
		ext := make([]interface{}, len(gvks))
		for i, gvk := range gvks {
			ext[i] = map[string]interface{}{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
		}
		s := d.defs[name]
		s.AddExtension("x-kubernetes-group-version-kind", ext)
		d.defs[name] = s
	}
	return nil
}

// appendNew appends the elements of add that list lacks.
func appendNew(list []schema.GroupVersionKind, add ...schema.GroupVersionKind) []schema.GroupVersionKind {
	for _, gvk := range add {
		if !slices.Contains(list, gvk) {
			list = append(list, gvk)
		}
	}
	return list
}
