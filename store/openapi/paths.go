package openapi

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

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

// Go types of the bodies every resource shares.
var (
	statusType          = reflect.TypeFor[metav1.Status]()
	deleteOptionsType   = reflect.TypeFor[metav1.DeleteOptions]()
	watchEventType      = reflect.TypeFor[metav1.WatchEvent]()
	patchType           = reflect.TypeFor[metav1.Patch]()
	apiResourceListType = reflect.TypeFor[metav1.APIResourceList]()
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
