package apiserver

import (
	"bytes"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/berth-io/berth/store/registry"
)

// discovery serves /api, /apis and the per group-version resource lists,
// encoded once at start-up.
type discovery struct {
	docs map[string][]byte // path → JSON
}

// subresourceKinds are the kinds (and their group-version) of subresources
// whose body is not the parent kind.
var subresourceKinds = map[string]schema.GroupVersionKind{
	"scale":    {Group: "autoscaling", Version: "v1", Kind: "Scale"},
	"binding":  {Group: "", Version: "v1", Kind: "Binding"},
	"eviction": {Group: "policy", Version: "v1", Kind: "Eviction"},
	"token":    {Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"},
}

var subresourceVerbs = map[string][]string{
	"status":   {"get", "patch", "update"},
	"scale":    {"get", "patch", "update"},
	"binding":  {"create"},
	"eviction": {"create"},
	"token":    {"create"},
	"log":      {"get"},
	"finalize": {"update"},
}

func newDiscovery(reg *registry.Registry, codecs serializer.CodecFactory) *discovery {
	d := &discovery{docs: map[string][]byte{}}
	enc := codecs.LegacyCodec(metav1.SchemeGroupVersion)
	for _, info := range codecs.SupportedMediaTypes() {
		if info.MediaType == runtime.ContentTypeJSON {
			enc = info.Serializer
		}
	}
	put := func(path string, obj runtime.Object) {
		var buf bytes.Buffer
		if err := enc.Encode(obj, &buf); err == nil {
			d.docs[path] = buf.Bytes()
		}
	}
	groups := map[string]*metav1.APIGroup{}
	var order []string
	lists := map[schema.GroupVersion]*metav1.APIResourceList{}
	for _, k := range reg.Kinds() {
		gv := k.GVK.GroupVersion()
		list, ok := lists[gv]
		if !ok {
			list = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
			lists[gv] = list
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: k.Resource, SingularName: k.Singular, Namespaced: k.Namespaced, Kind: k.GVK.Kind,
			Verbs: k.Verbs(), ShortNames: k.ShortNames, Categories: k.Categories,
		})
		subs := k.Subresources
		if k.HasStatus {
			subs = append([]string{"status"}, subs...)
		}
		for _, sub := range subs {
			r := metav1.APIResource{Name: k.Resource + "/" + sub, Namespaced: k.Namespaced, Kind: k.GVK.Kind, Verbs: subresourceVerbs[sub]}
			if gvk, ok := subresourceKinds[sub]; ok {
				r.Group, r.Version, r.Kind = gvk.Group, gvk.Version, gvk.Kind
			}
			list.APIResources = append(list.APIResources, r)
		}
		if gv.Group == "" {
			continue
		}
		g, ok := groups[gv.Group]
		if !ok {
			g = &metav1.APIGroup{Name: gv.Group}
			groups[gv.Group] = g
			order = append(order, gv.Group)
		}
		if !hasVersion(g, gv.Version) {
			v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
			g.Versions = append(g.Versions, v)
			g.PreferredVersion = v
		}
	}
	put("/api", &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: ""}}})
	groupList := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, name := range order {
		g := groups[name]
		groupList.Groups = append(groupList.Groups, *g)
		put("/apis/"+name, &metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: g.Name, Versions: g.Versions, PreferredVersion: g.PreferredVersion})
	}
	put("/apis", groupList)
	for gv, list := range lists {
		path := "/apis/" + gv.String()
		if gv.Group == "" {
			path = "/api/" + gv.Version
		}
		put(path, list)
	}
	return d
}

func hasVersion(g *metav1.APIGroup, version string) bool {
	for _, v := range g.Versions {
		if v.Version == version {
			return true
		}
	}
	return false
}

// serve answers a discovery path; it reports false for any other path.
func (d *discovery) serve(w http.ResponseWriter, r *http.Request) bool {
	doc, ok := d.docs[strings.TrimSuffix(r.URL.Path, "/")]
	if !ok {
		return false
	}
	w.Header().Set("Content-Type", runtime.ContentTypeJSON)
	w.Header().Set("Cache-Control", "no-cache, private")
	_, _ = w.Write(doc)
	return true
}
