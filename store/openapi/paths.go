package openapi

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// The verbs a Kind may list, as in discovery.
const (
	verbGet              = "get"
	verbList             = "list"
	verbWatch            = "watch"
	verbCreate           = "create"
	verbUpdate           = "update"
	verbPatch            = "patch"
	verbDelete           = "delete"
	verbDeleteCollection = "deletecollection"
)

var knownVerbs = []string{verbGet, verbList, verbWatch, verbCreate, verbUpdate, verbPatch, verbDelete, verbDeleteCollection}

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

// Go types of the bodies every resource shares.
var (
	statusType          = reflect.TypeFor[metav1.Status]()
	deleteOptionsType   = reflect.TypeFor[metav1.DeleteOptions]()
	watchEventType      = reflect.TypeFor[metav1.WatchEvent]()
	patchType           = reflect.TypeFor[metav1.Patch]()
	apiResourceListType = reflect.TypeFor[metav1.APIResourceList]()
)

// subresource describes how a known subresource is served: which body it
// takes and returns (nil: the parent kind's object), with which verbs, and
// which query options it reads.
type subresource struct {
	body    reflect.Type
	bodyGVK schema.GroupVersionKind
	verbs   []string // get, update, patch, create; or "connect"
	text    bool     // the response is plain text (logs)
	options reflect.Type
}

const verbConnect = "connect"

// subresources are the subresources berth can describe. Upstream knows
// their shapes from its REST storage; here they are a table.
var subresources = map[string]subresource{
	"status":              {verbs: []string{verbGet, verbUpdate, verbPatch}},
	"ephemeralcontainers": {verbs: []string{verbGet, verbUpdate, verbPatch}},
	"resize":              {verbs: []string{verbGet, verbUpdate, verbPatch}},
	"approval":            {verbs: []string{verbGet, verbUpdate, verbPatch}},
	"finalize":            {verbs: []string{verbUpdate}},
	"scale": {
		body:    reflect.TypeFor[autoscalingv1.Scale](),
		bodyGVK: autoscalingv1.SchemeGroupVersion.WithKind("Scale"),
		verbs:   []string{verbGet, verbUpdate, verbPatch},
	},
	"binding": {
		body:    reflect.TypeFor[corev1.Binding](),
		bodyGVK: corev1.SchemeGroupVersion.WithKind("Binding"),
		verbs:   []string{verbCreate},
	},
	"eviction": {
		body:    reflect.TypeFor[policyv1.Eviction](),
		bodyGVK: policyv1.SchemeGroupVersion.WithKind("Eviction"),
		verbs:   []string{verbCreate},
	},
	"token": {
		body:    reflect.TypeFor[authenticationv1.TokenRequest](),
		bodyGVK: authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"),
		verbs:   []string{verbCreate},
	},
	"log":         {verbs: []string{verbGet}, text: true, options: reflect.TypeFor[corev1.PodLogOptions]()},
	"exec":        {verbs: []string{verbConnect}, text: true, options: reflect.TypeFor[corev1.PodExecOptions]()},
	"attach":      {verbs: []string{verbConnect}, text: true, options: reflect.TypeFor[corev1.PodAttachOptions]()},
	"portforward": {verbs: []string{verbConnect}, text: true, options: reflect.TypeFor[corev1.PodPortForwardOptions]()},
}

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

// groupVersionPaths collects the operations of one group-version.
type groupVersionPaths struct {
	gv    schema.GroupVersion
	paths map[string]spec.PathItem
	// roots are the Go types its operations send and receive; their
	// definitions and everything they reach make up the document.
	roots []reflect.Type
	// kinds maps roots to the kinds they are served as.
	kinds map[reflect.Type][]schema.GroupVersionKind
}

func newGroupVersionPaths(gv schema.GroupVersion) *groupVersionPaths {
	g := &groupVersionPaths{gv: gv, paths: map[string]spec.PathItem{}, kinds: map[reflect.Type][]schema.GroupVersionKind{}}
	g.addRoot(deleteOptionsType, gv.WithKind("DeleteOptions"))
	g.addRoot(watchEventType, gv.WithKind("WatchEvent"))
	g.set("/"+groupVersionPath(gv)+"/", nil, http.MethodGet, g.operation(op{
		id: "get" + operationPrefix(gv) + "APIResources", description: "get available resources",
		consumes: objectMediaTypes, produces: objectMediaTypes,
		responses: []response{{http.StatusOK, apiResourceListType}},
	}))
	return g
}

// addRoot records that the operations use t, served as gvk when gvk has a
// kind.
func (g *groupVersionPaths) addRoot(t reflect.Type, gvk schema.GroupVersionKind) {
	if _, ok := g.kinds[t]; !ok {
		g.roots = append(g.roots, t)
		g.kinds[t] = nil
	}
	if gvk.Kind != "" && !slices.Contains(g.kinds[t], gvk) {
		g.kinds[t] = append(g.kinds[t], gvk)
	}
}

// resourcePaths are the URLs of one resource.
type resourcePaths struct {
	kind       Kind
	objType    reflect.Type
	listType   reflect.Type
	scope      string // "Namespaced" in the operation ids of namespaced resources
	collection string
	item       string
	params     []spec.Parameter // of the item URL: name, namespace (if any), pretty
}

// addKind adds the operations of k's verbs and subresources.
func (g *groupVersionPaths) addKind(k Kind) error {
	r, err := newResourcePaths(g.gv, k)
	if err != nil {
		return err
	}
	verbs := map[string]bool{}
	for _, v := range k.Verbs {
		if !slices.Contains(knownVerbs, v) {
			return fmt.Errorf("openapi: kind %v: unknown verb %q (known: %s)", k.GVK, v, strings.Join(knownVerbs, ", "))
		}
		verbs[v] = true
	}
	if _, taken := g.paths[r.item]; taken {
		return fmt.Errorf("openapi: kind %v: resource %q is registered twice", k.GVK, k.Resource)
	}
	g.addRoot(r.objType, k.GVK)
	if r.listType != nil {
		g.addRoot(r.listType, k.GVK.GroupVersion().WithKind(k.GVK.Kind+"List"))
	}
	g.addVerbs(r, verbs)
	for _, name := range k.Subresources {
		if err := g.addSubresource(r, name); err != nil {
			return err
		}
	}
	return nil
}

func newResourcePaths(gv schema.GroupVersion, k Kind) (*resourcePaths, error) {
	if k.GVK.Kind == "" || k.GVK.Version == "" || k.Resource == "" || strings.Contains(k.Resource, "/") {
		return nil, fmt.Errorf("openapi: kind %v: needs a kind, a version and a plural resource name without slashes (resource %q)", k.GVK, k.Resource)
	}
	objType, err := structOf(k.Object)
	if err != nil {
		return nil, fmt.Errorf("openapi: kind %v: Object: %w", k.GVK, err)
	}
	r := &resourcePaths{kind: k, objType: objType}
	if k.List != nil || slices.Contains(k.Verbs, verbList) {
		if r.listType, err = structOf(k.List); err != nil {
			return nil, fmt.Errorf("openapi: kind %v: List: %w", k.GVK, err)
		}
	}
	prefix := "/" + groupVersionPath(gv)
	r.collection = prefix + "/" + k.Resource
	r.params = []spec.Parameter{pathParam("name", "name of the "+k.GVK.Kind)}
	if k.Namespaced {
		r.scope = "Namespaced"
		r.collection = prefix + "/namespaces/{namespace}/" + k.Resource
		r.params = append(r.params, pathParam("namespace", "namespace of the object: the scope of its name and of access to it"))
	}
	r.params = append(r.params, prettyParam)
	r.item = r.collection + "/{name}"
	return r, nil
}

// structOf is the struct type obj points to.
func structOf(obj any) (reflect.Type, error) {
	t := reflect.TypeOf(obj)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("want a pointer to a struct, got %T", obj)
	}
	return t.Elem(), nil
}

// addVerbs adds the collection, item and watch operations of r.
func (g *groupVersionPaths) addVerbs(r *resourcePaths, verbs map[string]bool) {
	kind := r.kind.GVK
	name := kind.Kind
	prefix := operationPrefix(g.gv)
	collectionParams := r.params[1:] // namespace (if any) and pretty
	if verbs[verbList] {
		list := op{
			id: "list" + prefix + r.scope + name, action: verbList, description: "list or watch objects of kind " + name,
			gvk: kind, params: listParams, consumes: anyMediaType, produces: watchMediaTypes,
			responses: []response{{http.StatusOK, r.listType}},
		}
		g.set(r.collection, collectionParams, http.MethodGet, g.operation(list))
		if r.kind.Namespaced {
			list.id = "list" + prefix + name + "ForAllNamespaces"
			g.set("/"+groupVersionPath(g.gv)+"/"+r.kind.Resource, []spec.Parameter{prettyParam}, http.MethodGet, g.operation(list))
		}
	}
	if verbs[verbCreate] {
		g.set(r.collection, collectionParams, http.MethodPost, g.operation(op{
			id: "create" + prefix + r.scope + name, action: "post", description: "create a " + name,
			gvk: kind, params: createParams, body: r.objType, consumes: anyMediaType, produces: objectMediaTypes,
			responses: []response{{http.StatusOK, r.objType}, {http.StatusCreated, r.objType}, {http.StatusAccepted, r.objType}},
		}))
	}
	if verbs[verbDeleteCollection] {
		g.set(r.collection, collectionParams, http.MethodDelete, g.operation(op{
			id: "delete" + prefix + "Collection" + r.scope + name, action: verbDeleteCollection, description: "delete a collection of " + name,
			gvk: kind, params: deleteCollectionParams, body: deleteOptionsType, consumes: anyMediaType, produces: objectMediaTypes,
			responses: []response{{http.StatusOK, statusType}},
		}))
	}
	if verbs[verbGet] {
		g.set(r.item, r.params, http.MethodGet, g.operation(op{
			id: "read" + prefix + r.scope + name, action: verbGet, description: "read the specified " + name,
			gvk: kind, consumes: anyMediaType, produces: objectMediaTypes,
			responses: []response{{http.StatusOK, r.objType}},
		}))
	}
	if verbs[verbUpdate] {
		g.set(r.item, r.params, http.MethodPut, g.operation(op{
			id: "replace" + prefix + r.scope + name, action: "put", description: "replace the specified " + name,
			gvk: kind, params: updateParams, body: r.objType, consumes: anyMediaType, produces: objectMediaTypes,
			responses: []response{{http.StatusOK, r.objType}, {http.StatusCreated, r.objType}},
		}))
	}
	if verbs[verbPatch] {
		g.set(r.item, r.params, http.MethodPatch, g.operation(op{
			id: "patch" + prefix + r.scope + name, action: verbPatch, description: "partially update the specified " + name,
			gvk: kind, params: patchParams, body: patchType, consumes: patchMediaTypes, produces: objectMediaTypes,
			responses: []response{{http.StatusOK, r.objType}, {http.StatusCreated, r.objType}},
		}))
	}
	if verbs[verbDelete] {
		g.set(r.item, r.params, http.MethodDelete, g.operation(op{
			id: "delete" + prefix + r.scope + name, action: verbDelete, description: "delete a " + name,
			gvk: kind, params: deleteParams, body: deleteOptionsType, consumes: anyMediaType, produces: objectMediaTypes,
			responses: []response{{http.StatusOK, statusType}, {http.StatusAccepted, statusType}},
		}))
	}
	if verbs[verbWatch] {
		g.addWatches(r)
	}
}

// addWatches adds the deprecated /watch/ URLs of r.
func (g *groupVersionPaths) addWatches(r *resourcePaths) {
	name := r.kind.GVK.Kind
	prefix := operationPrefix(g.gv)
	gvPrefix := "/" + groupVersionPath(g.gv)
	collection := gvPrefix + "/watch" + strings.TrimPrefix(r.collection, gvPrefix)
	watch := op{
		id: "watch" + prefix + r.scope + name + "List", action: "watchlist",
		description: "watch changes to a list of " + name + "; deprecated: use the list operation with watch=true",
		gvk:         r.kind.GVK, params: listParams, consumes: anyMediaType, produces: watchMediaTypes,
		responses: []response{{http.StatusOK, watchEventType}},
	}
	g.set(collection, r.params[1:], http.MethodGet, g.operation(watch))
	if r.kind.Namespaced {
		watch.id = "watch" + prefix + name + "ListForAllNamespaces"
		g.set(gvPrefix+"/watch/"+r.kind.Resource, []spec.Parameter{prettyParam}, http.MethodGet, g.operation(watch))
	}
	watch.id, watch.action = "watch"+prefix+r.scope+name, verbWatch
	watch.description = "watch changes to one " + name + "; deprecated: use the list operation with watch=true and a fieldSelector on metadata.name"
	g.set(collection+"/{name}", r.params, http.MethodGet, g.operation(watch))
}

// addSubresource adds the operations of subresource name of r.
func (g *groupVersionPaths) addSubresource(r *resourcePaths, name string) error {
	sub, ok := subresources[name]
	if !ok {
		known := make([]string, 0, len(subresources))
		for k := range subresources {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("openapi: kind %v: unknown subresource %q (known: %s)", r.kind.GVK, name, strings.Join(known, ", "))
	}
	body, gvk := r.objType, r.kind.GVK
	if sub.body != nil {
		body, gvk = sub.body, sub.bodyGVK
		g.addRoot(body, gvk)
	}
	path := r.item + "/" + name
	id := operationPrefix(g.gv) + r.scope + r.kind.GVK.Kind + upperFirst(name)
	what := name + " of the specified " + r.kind.GVK.Kind
	for _, verb := range sub.verbs {
		switch {
		case verb == verbConnect:
			// A connection is no object: the operation names its options
			// kind, and there is no output to indent.
			options := corev1.SchemeGroupVersion.WithKind(sub.options.Name())
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				g.set(path, r.params[:len(r.params)-1], method, g.operation(op{
					id:     "connect" + operationPrefix(g.gv) + upperFirst(strings.ToLower(method)) + r.scope + r.kind.GVK.Kind + upperFirst(name),
					action: verbConnect, description: "connect to " + what, gvk: options,
					params: optionParams(sub.options), consumes: anyMediaType, produces: anyMediaType,
					responses: []response{{http.StatusOK, nil}},
				}))
			}
		case verb == verbGet && sub.text:
			g.set(path, r.params, http.MethodGet, g.operation(op{
				id: "read" + id, action: verbGet, description: "read " + what, gvk: gvk,
				params: optionParams(sub.options), consumes: anyMediaType, produces: textMediaTypes,
				responses: []response{{http.StatusOK, nil}},
			}))
		case verb == verbGet:
			g.set(path, r.params, http.MethodGet, g.operation(op{
				id: "read" + id, action: verbGet, description: "read " + what, gvk: gvk,
				consumes: anyMediaType, produces: objectMediaTypes,
				responses: []response{{http.StatusOK, body}},
			}))
		case verb == verbUpdate:
			g.set(path, r.params, http.MethodPut, g.operation(op{
				id: "replace" + id, action: "put", description: "replace " + what, gvk: gvk,
				params: updateParams, body: body, consumes: anyMediaType, produces: objectMediaTypes,
				responses: []response{{http.StatusOK, body}, {http.StatusCreated, body}},
			}))
		case verb == verbPatch:
			g.set(path, r.params, http.MethodPatch, g.operation(op{
				id: "patch" + id, action: verbPatch, description: "partially update " + what, gvk: gvk,
				params: patchParams, body: patchType, consumes: patchMediaTypes, produces: objectMediaTypes,
				responses: []response{{http.StatusOK, body}, {http.StatusCreated, body}},
			}))
		case verb == verbCreate:
			g.set(path, r.params, http.MethodPost, g.operation(op{
				id: "create" + id, action: "post", description: "create " + what, gvk: gvk,
				params: createParams, body: body, consumes: anyMediaType, produces: objectMediaTypes,
				responses: []response{{http.StatusOK, body}, {http.StatusCreated, body}, {http.StatusAccepted, body}},
			}))
		}
	}
	return nil
}

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
