package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/version"

	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/store/admission"
	"github.com/berth-io/berth/store/apiserver"
	"github.com/berth-io/berth/store/authn"
	"github.com/berth-io/berth/store/defaults"
	"github.com/berth-io/berth/store/openapi"
	"github.com/berth-io/berth/store/registry"
	"github.com/berth-io/berth/store/validation"
	"github.com/berth-io/berth/store/watchcache"
)

// KubernetesVersion is the Kubernetes API version berth serves.
const KubernetesVersion = "v1.37.2"

func newUID() types.UID { return uuid.NewUUID() }

// apiConfig assembles everything the REST API needs.
func (s *Server) apiConfig(ctx context.Context, reg *registry.Registry, cacher *watchcache.Cacher, caches map[*registry.Kind]*watchcache.Resource, metrics *prometheus.Registry) (apiserver.Config, error) {
	opts := s.opts
	get := lookup(reg, s.Store, caches)
	ips, ports, err := newAllocators(s.Etcd, opts)
	if err != nil {
		return apiserver.Config{}, err
	}
	authenticator, tokens, err := s.authentication(get, metrics)
	if err != nil {
		return apiserver.Config{}, err
	}
	pol, err := policies.NewStore(policies.Config{Dirs: opts.PolicyDirs, Metrics: metrics, Log: opts.Log})
	if err != nil {
		return apiserver.Config{}, err
	}
	s.Policies = pol
	go func() {
		if err := pol.Run(ctx); err != nil && ctx.Err() == nil {
			opts.Log.Error("policy file watcher stopped; policies no longer reload", "err", err)
		}
	}()
	go watchPublishedPolicies(ctx, reg, caches, pol, opts.Log)
	az := rbac{policies: nodeAuthorizer{next: pol}}
	doc, err := openapi.New(openapiKinds(reg))
	if err != nil {
		return apiserver.Config{}, fmt.Errorf("building the OpenAPI documents: %w", err)
	}
	ready := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Etcd.Get(r.Context(), "health", clientv3.WithCountOnly()); err != nil {
			http.Error(w, "etcd: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	ok := handlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	podLogs, err := newPodLogs(get, s.PKI, opts.Log)
	if err != nil {
		return apiserver.Config{}, err
	}
	info := versionInfo()
	versionHandler := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(info)
	})
	cfg := apiserver.Config{
		Registry: reg,
		Store:    s.Store,
		Cache:    cacher,
		Strategy: apiserver.Strategy{
			Default:        defaults.Default,
			Validate:       validation.Validate,
			ValidateUpdate: validation.ValidateUpdate,
		},
		Authenticator: authenticator,
		Authorizer:    az,
		Impersonate:   az.impersonation,
		ReadOnly:      policyObjects(pol),
		Admission:     nodeRestriction{next: admission.New(get, ips, ports, opts.Log)},
		Tokens:        tokens.issue,
		Virtual: map[schema.GroupVersionResource]apiserver.VirtualFunc{
			authenticationv1.SchemeGroupVersion.WithResource("tokenreviews"):             tokens.review,
			authenticationv1.SchemeGroupVersion.WithResource("selfsubjectreviews"):       selfSubjectReview,
			authorizationv1.SchemeGroupVersion.WithResource("selfsubjectaccessreviews"):  az.accessReview,
			authorizationv1.SchemeGroupVersion.WithResource("subjectaccessreviews"):      az.accessReview,
			authorizationv1.SchemeGroupVersion.WithResource("localsubjectaccessreviews"): az.accessReview,
			authorizationv1.SchemeGroupVersion.WithResource("selfsubjectrulesreviews"):   rulesReview(pol),
		},
		Connect: map[string]http.Handler{"pods/log": podLogs},
		Paths: map[string]http.Handler{
			"/metrics":        metricsHandler(metrics),
			"/openapi/":       doc.Handler(),
			"/debug/pprof/":   pprofHandler(),
			"/debug/policies": policyStatusHandler(pol),
		},
		PublicPaths: map[string]http.Handler{
			"/healthz": ready, "/readyz": ready, "/livez": ok, "/version": versionHandler, "/version/": versionHandler,
		},
		MaxInFlight: opts.MaxInFlight,
		Metrics:     metrics,
		Log:         opts.Log,
	}
	for path, h := range opts.PublicPaths {
		if _, taken := cfg.PublicPaths[path]; taken {
			return apiserver.Config{}, fmt.Errorf("public path %s is the server's own", path)
		}
		cfg.PublicPaths[path] = h
	}
	return cfg, nil
}

func versionInfo() version.Info {
	return version.Info{
		Major: "1", Minor: "37", GitVersion: KubernetesVersion + "+berth", GitTreeState: "clean",
		BuildDate: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), Compiler: runtime.Compiler,
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// selfSubjectReview answers "who am I" (kubectl auth whoami).
func selfSubjectReview(_ context.Context, user *authn.User, obj k8sruntime.Object) (k8sruntime.Object, error) {
	review := obj.(*authenticationv1.SelfSubjectReview)
	review.Status.UserInfo = userInfo(user)
	review.CreationTimestamp = metav1.Now()
	return review, nil
}

func userInfo(user *authn.User) authenticationv1.UserInfo {
	info := authenticationv1.UserInfo{Username: user.Name, UID: user.UID, Groups: user.Groups}
	if len(user.Extra) > 0 {
		info.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range user.Extra {
			info.Extra[k] = v
		}
	}
	return info
}

// accessReviewInfo turns SubjectAccessReview attributes into a request.
func accessReviewInfo(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) (apiserver.RequestInfo, error) {
	switch {
	case ra != nil:
		return apiserver.RequestInfo{IsResource: true, Verb: ra.Verb, APIGroup: ra.Group, APIVersion: ra.Version,
			Namespace: ra.Namespace, Resource: ra.Resource, Subresource: ra.Subresource, Name: ra.Name}, nil
	case nra != nil:
		return apiserver.RequestInfo{Verb: nra.Verb, Path: nra.Path}, nil
	}
	return apiserver.RequestInfo{}, apierrors.NewBadRequest("exactly one of resourceAttributes and nonResourceAttributes must be set")
}

// openapiKinds describes every served kind for the OpenAPI documents.
func openapiKinds(reg *registry.Registry) []openapi.Kind {
	var out []openapi.Kind
	for _, k := range reg.Kinds() {
		subs := append([]string(nil), k.Subresources...)
		if k.HasStatus {
			subs = append([]string{"status"}, subs...)
		}
		out = append(out, openapi.Kind{GVK: k.GVK, Resource: k.Resource, Namespaced: k.Namespaced, Object: k.New(), List: k.NewList(), Verbs: k.Verbs(), Subresources: subs})
	}
	return out
}

// pprofHandler serves Go's profiles (admin only: RBAC grants no one else
// the path).
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	return mux
}
