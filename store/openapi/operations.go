package openapi

import (
	"net/http"
	"reflect"
	"slices"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Media types of request and response bodies, as upstream lists them.
var (
	objectMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	watchMediaTypes  = append(slices.Clone(objectMediaTypes),
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
	anyMediaType    = []string{"*/*"}
	patchMediaTypes = []string{
		"application/json-patch+json",
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
		"application/apply-patch+yaml",
	}
	textMediaTypes = []string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
)

// Query parameters of each kind of request, read from the options types
// the API server decodes them into.
var (
	listParams   = optionParams(reflect.TypeFor[metav1.ListOptions]())
	createParams = optionParams(reflect.TypeFor[metav1.CreateOptions]())
	updateParams = optionParams(reflect.TypeFor[metav1.UpdateOptions]())
	patchParams  = optionParams(reflect.TypeFor[metav1.PatchOptions]())
	deleteParams = optionParams(deleteOptionsType)
	// deleteCollectionParams select what to delete like a list does, but
	// there is nothing to watch.
	deleteCollectionParams = mergeParams(deleteParams, slices.DeleteFunc(slices.Clone(listParams), func(p spec.Parameter) bool {
		return p.Name == "watch" || p.Name == "allowWatchBookmarks"
	}))
)

// set puts o on method of path, whose path-level parameters are params.
func (g *groupVersionPaths) set(path string, params []spec.Parameter, method string, o *spec.Operation) {
	item := g.paths[path]
	item.Parameters = params
	switch method {
	case http.MethodGet:
		item.Get = o
	case http.MethodPost:
		item.Post = o
	case http.MethodPut:
		item.Put = o
	case http.MethodPatch:
		item.Patch = o
	case http.MethodDelete:
		item.Delete = o
	}
	g.paths[path] = item
}

// op describes one operation.
type op struct {
	id, action, description string
	gvk                     schema.GroupVersionKind // of the body; none for discovery
	params                  []spec.Parameter        // query parameters
	body                    reflect.Type            // request body, nil for none
	consumes, produces      []string
	responses               []response
}

// response is one answer of an operation: a status code and the Go type of
// its body (nil for plain text).
type response struct {
	code int
	body reflect.Type
}

// operation builds o as an OpenAPI v2 operation and records the types it
// uses as roots.
func (g *groupVersionPaths) operation(o op) *spec.Operation {
	out := &spec.Operation{OperationProps: spec.OperationProps{
		ID:          o.id,
		Description: o.description,
		Consumes:    o.consumes,
		Produces:    o.produces,
		Schemes:     []string{"https"},
		Tags:        []string{tag(g.gv)},
		Parameters:  o.params,
		Responses: &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: map[int]spec.Response{
			http.StatusUnauthorized: {ResponseProps: spec.ResponseProps{Description: http.StatusText(http.StatusUnauthorized)}},
		}}},
	}}
	if o.body != nil {
		g.addRoot(o.body, schema.GroupVersionKind{})
		ref := swagger2.ref(definitionName(o.body))
		// Options of a deletion may be left out; other bodies are the request.
		body := spec.Parameter{ParamProps: spec.ParamProps{Name: "body", In: "body", Required: o.body != deleteOptionsType, Schema: &ref}}
		out.Parameters = append([]spec.Parameter{body}, o.params...)
	}
	for _, r := range o.responses {
		body := spec.StringProperty()
		if r.body != nil {
			g.addRoot(r.body, schema.GroupVersionKind{})
			ref := swagger2.ref(definitionName(r.body))
			body = &ref
		}
		out.Responses.StatusCodeResponses[r.code] = spec.Response{ResponseProps: spec.ResponseProps{
			Description: http.StatusText(r.code), Schema: body,
		}}
	}
	if o.action != "" {
		out.AddExtension("x-kubernetes-action", o.action)
	}
	if o.gvk.Kind != "" {
		out.AddExtension("x-kubernetes-group-version-kind", map[string]string{
			"group": o.gvk.Group, "version": o.gvk.Version, "kind": o.gvk.Kind,
		})
	}
	return out
}

// prettyParam asks for indented output; every URL takes it.
var prettyParam = queryParam("pretty", "string", "", "if true, the response is indented for reading")

func queryParam(name, typ, format, description string) spec.Parameter {
	return spec.Parameter{
		ParamProps:        spec.ParamProps{Name: name, In: "query", Description: description},
		SimpleSchema:      spec.SimpleSchema{Type: typ, Format: format},
		CommonValidations: spec.CommonValidations{UniqueItems: true},
	}
}

func pathParam(name, description string) spec.Parameter {
	p := queryParam(name, "string", "", description)
	p.In, p.Required = "path", true
	return p
}

// optionParams are the query parameters an options struct is decoded
// from: its json fields of scalar (or list of scalar) types, described by
// its SwaggerDoc, sorted by name. Struct fields are not query parameters.
func optionParams(t reflect.Type) []spec.Parameter {
	doc := docs(t)
	var params []spec.Parameter
	for i := range t.NumField() {
		f := t.Field(i)
		name, _ := jsonName(f)
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		t := f.Type
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem() // a list is sent as repeated parameters
		}
		if s, ok := scalarSchema(t.Kind()); ok {
			params = append(params, queryParam(name, s.Type[0], s.Format, doc[name]))
		}
	}
	sort.Slice(params, func(i, j int) bool { return params[i].Name < params[j].Name })
	return params
}

// mergeParams returns the parameters of a and those of b that a has no
// parameter of the same name for, sorted by name.
func mergeParams(a, b []spec.Parameter) []spec.Parameter {
	out := slices.Clone(a)
	for _, p := range b {
		if !slices.ContainsFunc(a, func(q spec.Parameter) bool { return q.Name == p.Name }) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
