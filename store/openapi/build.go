package openapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/openapiconv"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// info is the info object of every document.
var info = &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: "unversioned"}}

// The security scheme every document declares: a bearer token in the
// Authorization header.
const (
	bearerToken            = "BearerToken"
	bearerTokenDescription = "Bearer Token authentication"
)

// buildV2 is the one OpenAPI v2 document of all group-versions.
func buildV2(groupVersions []*groupVersionPaths, merge *mergeSchema) (*spec.Swagger, error) {
	kindsOf := map[reflect.Type][]schema.GroupVersionKind{}
	for _, g := range groupVersions {
		for t, gvks := range g.kinds {
			kindsOf[t] = appendNew(kindsOf[t], gvks...)
		}
	}
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
			Type: "apiKey", Name: "authorization", In: "header", Description: bearerTokenDescription,
		}}},
		Security: []map[string][]string{{bearerToken: {}}},
	}}, nil
}

// buildV3 is the OpenAPI v3 document of one group-version: its paths and
// the definitions they reach.
func buildV3(g *groupVersionPaths, merge *mergeSchema) (*spec3.OpenAPI, error) {
	defs := newDefinitions(openAPIV3, merge)
	if err := defs.addRoots(g.roots, g.kinds); err != nil {
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
				Type: "apiKey", Name: "authorization", In: "header", Description: bearerTokenDescription,
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

// appendNew appends the elements of add that list lacks.
func appendNew(list []schema.GroupVersionKind, add ...schema.GroupVersionKind) []schema.GroupVersionKind {
	for _, gvk := range add {
		if !slices.Contains(list, gvk) {
			list = append(list, gvk)
		}
	}
	return list
}
