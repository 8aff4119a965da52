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
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/handler3"
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
	d := &Document{modified: time.Now(), v3: map[string]*document{}}
	swagger, err := buildV2(groupVersions, merge)
	if err != nil {
		return nil, err
	}
	d.v2 = newDocument(swagger, d.modified, v2Protobuf)
	for _, g := range groupVersions {
		doc, err := buildV3(g, merge)
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
