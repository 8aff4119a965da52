package validate

import (
	"context"
	"os"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/berth-io/berth/reconciler/gitsync/manifest"
	"github.com/berth-io/berth/store/kinds"
	"github.com/berth-io/berth/store/registry"
	"github.com/berth-io/berth/store/servertest"
)

// TestTheAPIServerAgrees applies every object of the fixtures and the
// examples repository to a real API server, as the git sync does
// (server-side apply), and checks that the server accepts exactly the
// objects validate finds no error in: CI and the cluster apply one set of
// rules.
func TestTheAPIServerAgrees(t *testing.T) {
	s := servertest.Start(t)
	cfg := rest.CopyConfig(s.AdminConfig)
	cfg.ContentType = "application/json"
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(kinds.NewScheme())
	if err := kinds.Register(reg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Where berth's API server is knowingly more lenient than kube-apiserver
	// (and than validate, which follows kube).
	serverLenient := map[string]string{
		"GitSource src": "server-side apply of a GitSource keeps unknown fields (spec.intervall) even with fieldValidation=Strict",
	}
	checked := map[bool]int{}
	for _, dir := range []string{"testdata/valid", "testdata/invalid", examplesRepo} {
		set, _ := manifest.Render(os.DirFS(dir), ".", manifest.Options{Skip: []string{PolicyDir}})
		for _, o := range set.Objects {
			if o.GVK.Kind == "Namespace" && o.Namespace() == "" {
				s.Namespace(o.Name())
			} else if o.Namespace() != "" {
				s.Namespace(o.Namespace())
			}
		}
		for _, o := range set.Objects {
			var valid = true
			for _, f := range Objects("", []*manifest.Object{o}, nil, Options{}) {
				if f.Severity == SeverityError {
					valid = false
				}
			}
			checked[valid]++
			k, served := reg.ForKind(o.GVK)
			if o.Name() == "" || !served {
				if valid {
					t.Errorf("%s:%s: validate accepts an object the API cannot address", dir, o)
				}
				continue
			}
			res := client.Resource(k.GVR())
			var ri dynamic.ResourceInterface = res
			if k.Namespaced {
				ns := o.Namespace()
				if ns == "" {
					ns = "default"
				}
				ri = res.Namespace(ns)
			}
			_, err := ri.Patch(ctx, o.Name(), types.ApplyPatchType, o.Raw, metav1.PatchOptions{FieldManager: "berth-gitsync", Force: ptrTrue(), FieldValidation: "Strict"})
			switch {
			case valid && err != nil:
				t.Errorf("%s/%s: validate accepts %s, the API server refuses it: %v", dir, o.Pos, o, err)
			case !valid && err == nil && serverLenient[o.String()] != "":
				t.Logf("%s/%s: %s: known difference: %s", dir, o.Pos, o, serverLenient[o.String()])
			case !valid && err == nil:
				t.Errorf("%s/%s: validate refuses %s, the API server accepts it", dir, o.Pos, o)
			case !valid && !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err):
				// berth's server answers some apply errors (unknown fields,
				// wrong types, bad quantities) with 500 where kube says 400.
				t.Logf("%s/%s: %s refused with %v", dir, o.Pos, o, err)
			}
		}
	}
	if checked[true] < 20 || checked[false] < 10 {
		t.Errorf("checked %d valid and %d invalid objects; the fixtures should have more", checked[true], checked[false])
	}
}

func ptrTrue() *bool { b := true; return &b }
