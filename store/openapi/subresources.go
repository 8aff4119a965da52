package openapi

import (
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// subresource describes how a known subresource is served.
type subresource struct {
	// body is the Go type it takes and returns, and bodyGVK its kind; nil
	// for the parent's own type.
	body    reflect.Type
	bodyGVK schema.GroupVersionKind
	// verbs are among get, update, patch and create, or are connect for a
	// stream (exec, attach, portforward).
	verbs []string
	// text is set when get answers plain text (logs) rather than body.
	text bool
	// options is the Go type of its query parameters, if any; for a
	// connect subresource it also names the operation's kind.
	options reflect.Type
}

// verbConnect opens a stream to a pod.
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
	"exec":        {verbs: []string{verbConnect}, options: reflect.TypeFor[corev1.PodExecOptions]()},
	"attach":      {verbs: []string{verbConnect}, options: reflect.TypeFor[corev1.PodAttachOptions]()},
	"portforward": {verbs: []string{verbConnect}, options: reflect.TypeFor[corev1.PodPortForwardOptions]()},
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
