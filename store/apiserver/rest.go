package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/berth-io/berth/store/authn"
	"github.com/berth-io/berth/store/registry"
	"github.com/berth-io/berth/store/storage"
	"github.com/berth-io/berth/store/watchcache"
)

// call is one resource request being served.
type call struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	info  RequestInfo
	user  *authn.User
	kind  *registry.Kind
	cache *watchcache.Resource
	out   output
	query url.Values
}

func (c *call) fail(err error) {
	c.s.writeStatus(c.w, c.out, err, c.kind.GroupResource(), c.info.Name)
}

func (c *call) key() string { return c.kind.Key(c.info.Namespace, c.info.Name) }

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, info RequestInfo, user *authn.User) {
	gvr := schema.GroupVersionResource{Group: info.APIGroup, Version: info.APIVersion, Resource: info.Resource}
	kind, ok := s.cfg.Registry.Lookup(gvr)
	out, err := s.negotiate(r, kind)
	if err != nil {
		s.writeStatus(w, output{}, err, schema.GroupResource{}, "")
		return
	}
	if !ok || (info.Subresource != "" && !kind.HasSubresource(info.Subresource)) || (!kind.Namespaced && info.Namespace != "" && info.Resource != "namespaces") {
		s.writeStatus(w, out, apierrors.NewNotFound(schema.GroupResource{Group: info.APIGroup, Resource: info.Resource}, info.Name), schema.GroupResource{}, "")
		return
	}
	if kind.Namespaced && info.Name != "" && info.Namespace == "" {
		s.writeStatus(w, out, apierrors.NewBadRequest("the server rejected our request: a namespace is required for "+kind.Resource), kind.GroupResource(), info.Name)
		return
	}
	c := &call{s: s, w: w, r: r, ctx: r.Context(), info: info, user: user, kind: kind, cache: s.resources[kind], out: out, query: r.URL.Query()}
	if kind.Resource == "namespaces" {
		c.info.Namespace = ""
	}
	switch {
	case kind.Virtual:
		if info.Verb != "create" {
			c.fail(methodNotAllowed(info.Verb, kind.GroupResource()))
			return
		}
		c.virtual()
		return
	case kind.ReadOnly:
		c.readOnly()
		return
	}
	if h, ok := s.cfg.Connect[kind.Resource+"/"+info.Subresource]; ok {
		h.ServeHTTP(w, r)
		return
	}
	if err := checkOptions(info.Verb, c.query); err != nil {
		c.fail(err)
		return
	}
	switch info.Verb {
	case "get":
		c.get()
	case "list":
		c.list()
	case "watch":
		c.watch()
	case "create":
		c.create()
	case "update":
		c.update()
	case "patch":
		c.patch()
	case "delete":
		c.delete()
	case "deletecollection":
		c.deleteCollection()
	default:
		c.fail(methodNotAllowed(info.Verb, kind.GroupResource()))
	}
}

// readOnly serves get/list/watch of kinds whose objects come from files.
func (c *call) readOnly() {
	switch c.info.Verb {
	case "get", "list", "watch":
	default:
		c.fail(&apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusMethodNotAllowed, Reason: metav1.StatusReasonMethodNotAllowed,
			Details: &metav1.StatusDetails{Group: c.kind.GVK.Group, Kind: c.kind.Resource, Name: c.info.Name},
			Message: fmt.Sprintf("%s are read-only here: RBAC policies are files. Change the policy files (the built-in set in policies/, a --policy-dir directory, or the policies/ folder of the synced git repository) and they are reloaded within seconds", c.kind.Resource),
		}})
		return
	}
	var objs []runtime.Object
	if c.s.cfg.ReadOnly != nil {
		for _, o := range c.s.cfg.ReadOnly(c.kind) {
			a, _ := meta.Accessor(o)
			if c.info.Namespace != "" && a.GetNamespace() != c.info.Namespace {
				continue
			}
			objs = append(objs, o)
		}
	}
	if c.info.Verb == "get" {
		for _, o := range objs {
			if a, _ := meta.Accessor(o); a.GetName() == c.info.Name {
				c.respond(http.StatusOK, o)
				return
			}
		}
		c.fail(apierrors.NewNotFound(c.kind.GroupResource(), c.info.Name))
		return
	}
	if c.info.Verb == "watch" {
		c.fail(apierrors.NewMethodNotSupported(c.kind.GroupResource(), "watch"))
		return
	}
	c.respondList(objs, 0, "", nil)
}

// readTarget decides how fresh a read must be from resourceVersion: ""
// means consistent (wait until the cache has everything etcd has), "0"
// means any, a number means not older than it.
func (c *call) readTarget() error {
	rv := c.query.Get("resourceVersion")
	switch rv {
	case "":
		_, err := c.s.cfg.Cache.WaitFresh(c.ctx)
		return err
	case "0":
		return nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", rv))
	}
	return c.s.cfg.Cache.WaitFor(c.ctx, n)
}

func (c *call) get() {
	switch c.info.Subresource {
	case "", "status", "scale":
	case "log":
		c.fail(apierrors.NewServiceUnavailable("pods/log is served by the node agent running the pod, and none is connected to this server"))
		return
	default:
		c.fail(methodNotAllowed("get", c.kind.GroupResource()))
		return
	}
	if err := c.readTarget(); err != nil {
		c.fail(err)
		return
	}
	obj, ok := c.cache.Get(c.key())
	if !ok {
		c.fail(apierrors.NewNotFound(c.kind.GroupResource(), c.info.Name))
		return
	}
	if c.info.Subresource == "scale" {
		scale, err := toScale(obj)
		if err != nil {
			c.fail(err)
			return
		}
		c.respond(http.StatusOK, scale)
		return
	}
	c.respond(http.StatusOK, obj)
}

func (c *call) list() {
	filter, err := filterFrom(c.kind, c.query, c.info.Namespace)
	if err != nil {
		c.fail(err)
		return
	}
	limit, _ := strconv.ParseInt(c.query.Get("limit"), 10, 64)
	cont := c.query.Get("continue")
	rv, match := c.query.Get("resourceVersion"), c.query.Get("resourceVersionMatch")
	if cont != "" || (limit > 0 && rv != "0") || match == string(metav1.ResourceVersionMatchExact) {
		c.listFromEtcd(filter, limit, cont)
		return
	}
	if err := c.readTarget(); err != nil {
		c.fail(err)
		return
	}
	objs, rev := c.cache.List(filter)
	c.respondList(objs, rev, "", nil)
}

// listFromEtcd serves a paged or exact-revision list straight from etcd.
func (c *call) listFromEtcd(filter watchcache.Filter, limit int64, cont string) {
	prefix := c.kind.KeyPrefix()
	if c.info.Namespace != "" {
		prefix += c.info.Namespace + "/"
	}
	var rev int64
	start := ""
	if cont != "" {
		tok, err := decodeContinue(cont, prefix)
		if err != nil {
			c.fail(apierrors.NewBadRequest(err.Error()))
			return
		}
		rev, start = tok.Revision, tok.Start
	} else if rv := c.query.Get("resourceVersion"); rv != "" && rv != "0" && c.query.Get("resourceVersionMatch") == string(metav1.ResourceVersionMatchExact) {
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil {
			c.fail(apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", rv)))
			return
		}
		rev = n
	}
	page, err := c.s.cfg.Store.List(c.ctx, prefix, start, rev, limit)
	if err != nil {
		if errors.Is(err, storage.ErrCompacted) && cont != "" {
			c.fail(apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."))
			return
		}
		c.fail(err)
		return
	}
	objs := page.Objects[:0]
	attrs := attrsFor(c.kind)
	for _, o := range page.Objects {
		l, f := attrs(o)
		if (filter.Label == nil || filter.Label.Matches(l)) && (filter.Field == nil || filter.Field.Matches(f)) {
			objs = append(objs, o)
		}
	}
	next := ""
	var remaining *int64
	if page.More {
		next = encodeContinue(page.Revision, page.NextKey, prefix)
		if filter.Label == nil && filter.Field == nil {
			remaining = &page.Remain
		}
	}
	c.respondList(objs, page.Revision, next, remaining)
}

// respondList builds the kind's List (or Table, or metadata list).
func (c *call) respondList(objs []runtime.Object, rev int64, cont string, remaining *int64) {
	lm := metav1.ListMeta{Continue: cont, RemainingItemCount: remaining}
	if rev > 0 {
		lm.ResourceVersion = strconv.FormatInt(rev, 10)
	}
	switch c.out.as {
	case asTable:
		c.s.writeObject(c.w, c.out, http.StatusOK, c.s.table(c.kind, objs, lm, c.query.Get("includeObject")))
		return
	case asMetadata, asMetadataList:
		c.s.writeObject(c.w, c.out, http.StatusOK, metadataList(objs, lm))
		return
	}
	list := c.kind.NewList()
	if err := meta.SetList(list, objs); err != nil {
		c.fail(err)
		return
	}
	if la, err := meta.ListAccessor(list); err == nil {
		la.SetResourceVersion(lm.ResourceVersion)
		la.SetContinue(lm.Continue)
		la.SetRemainingItemCount(lm.RemainingItemCount)
	}
	c.s.writeObject(c.w, c.out, http.StatusOK, list)
}

// respond sends one object in the negotiated shape.
func (c *call) respond(code int, obj runtime.Object) {
	switch c.out.as {
	case asTable:
		c.s.writeObject(c.w, c.out, code, c.s.table(c.kind, []runtime.Object{obj}, metav1.ListMeta{}, c.query.Get("includeObject")))
	case asMetadata, asMetadataList:
		c.s.writeObject(c.w, c.out, code, partialMetadata(obj))
	default:
		c.s.writeObject(c.w, c.out, code, obj)
	}
}

// readBody reads the request body within the size limit.
func (c *call) readBody() ([]byte, error) {
	data, err := io.ReadAll(c.r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", tooBig.Limit))
		}
		return nil, apierrors.NewBadRequest("reading the request body: " + err.Error())
	}
	return data, nil
}

func (c *call) dryRun() bool {
	for _, v := range c.query["dryRun"] {
		if v == "All" {
			return true
		}
	}
	return false
}

func (c *call) fieldManager() string {
	if m := c.query.Get("fieldManager"); m != "" {
		return m
	}
	return managerFromUserAgent(c.r.UserAgent())
}

// managerFromUserAgent is kube's default field manager: the user agent's
// program name ("kubectl-client-side-apply" stays as is).
func managerFromUserAgent(ua string) string {
	for i, r := range ua {
		if r == '/' {
			return ua[:i]
		}
	}
	if ua == "" {
		return "unknown"
	}
	return ua
}

// newMeta fills in what the server owns on a new object.
func newMeta(obj metav1.Object, now time.Time) {
	obj.SetUID(uuid.NewUUID())
	obj.SetCreationTimestamp(metav1.NewTime(now.Truncate(time.Second)))
	obj.SetDeletionTimestamp(nil)
	obj.SetDeletionGracePeriodSeconds(nil)
	obj.SetResourceVersion("")
	obj.SetSelfLink("")
}
