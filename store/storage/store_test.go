package storage_test

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-io/berth/store/etcdtest"
	"github.com/berth-io/berth/store/kinds"
	"github.com/berth-io/berth/store/storage"
)

func newStore(t *testing.T) *storage.Store {
	return storage.New(etcdtest.Start(t).Client(t), storage.NewCodec(kinds.NewScheme()))
}

func configMap(name, value string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Data: map[string]string{"k": value}}
}

func TestCreateGetAndResourceVersionIsTheModRevision(t *testing.T) {
	s, ctx := newStore(t), context.Background()
	cm := configMap("a", "1")
	if err := s.Create(ctx, "/registry/core/configmaps/ns/a", cm); err != nil {
		t.Fatal(err)
	}
	if cm.ResourceVersion == "" {
		t.Fatal("Create did not stamp the resourceVersion")
	}
	if err := s.Create(ctx, "/registry/core/configmaps/ns/a", configMap("a", "2")); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second create: want ErrExists, got %v", err)
	}
	got, err := s.Get(ctx, "/registry/core/configmaps/ns/a")
	if err != nil || got.(*corev1.ConfigMap).Data["k"] != "1" || got.(*corev1.ConfigMap).ResourceVersion != cm.ResourceVersion {
		t.Fatalf("get: %v %+v", err, got)
	}
	if _, err := s.Get(ctx, "/registry/core/configmaps/ns/missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("missing: want ErrNotFound, got %v", err)
	}
}

func TestGuaranteedUpdateRetriesFromAStaleCopyAndSkipsNoOps(t *testing.T) {
	s, ctx := newStore(t), context.Background()
	key := "/registry/core/configmaps/ns/a"
	stale := configMap("a", "1")
	if err := s.Create(ctx, key, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GuaranteedUpdate(ctx, key, nil, func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.ConfigMap).Data["k"] = "2"
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	updated, err := s.GuaranteedUpdate(ctx, key, stale, func(cur runtime.Object) (runtime.Object, error) {
		attempts++
		cur.(*corev1.ConfigMap).Data["k"] += "+"
		return cur, nil
	})
	if err != nil || updated.(*corev1.ConfigMap).Data["k"] != "2+" || attempts != 2 {
		t.Fatalf("update from a stale copy must retry on the fresh state: %v %v after %d attempts", err, updated, attempts)
	}
	before := updated.(*corev1.ConfigMap).ResourceVersion
	same, err := s.GuaranteedUpdate(ctx, key, nil, func(cur runtime.Object) (runtime.Object, error) { return cur, nil })
	if err != nil || same.(*corev1.ConfigMap).ResourceVersion != before {
		t.Fatalf("a no-op update must not write: %v rv %s → %s", err, before, same.(*corev1.ConfigMap).ResourceVersion)
	}
	same, err = s.GuaranteedUpdate(ctx, key, updated, func(cur runtime.Object) (runtime.Object, error) { return cur, nil })
	if err != nil || same.(*corev1.ConfigMap).ResourceVersion != before {
		t.Fatalf("a no-op update of the current cached copy must not write: %v rv %s → %s", err, before, same.(*corev1.ConfigMap).ResourceVersion)
	}

	// Setting k back to "1" changes nothing on the stale copy (k=1) but
	// does on the stored object (k=2+): the write must not be lost.
	attempts = 0
	reverted, err := s.GuaranteedUpdate(ctx, key, stale, func(cur runtime.Object) (runtime.Object, error) {
		attempts++
		cur.(*corev1.ConfigMap).Data["k"] = "1"
		return cur, nil
	})
	if err != nil || attempts != 2 || reverted.(*corev1.ConfigMap).ResourceVersion == before {
		t.Fatalf("a no-op on a stale copy must be tried on the fresh state: %v %v after %d attempts", err, reverted, attempts)
	}
	if got, err := s.Get(ctx, key); err != nil || got.(*corev1.ConfigMap).Data["k"] != "1" {
		t.Fatalf("the write was lost: %v %v", err, got)
	}
}

func TestDeleteChecksPreconditionAgainstFreshState(t *testing.T) {
	s, ctx := newStore(t), context.Background()
	key := "/registry/core/configmaps/ns/a"
	cm := configMap("a", "1")
	if err := s.Create(ctx, key, cm); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("refused")
	if _, err := s.Delete(ctx, key, nil, func(runtime.Object) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("precondition: want refused, got %v", err)
	}
	deleted, err := s.Delete(ctx, key, cm, nil)
	if err != nil || deleted.(*corev1.ConfigMap).ResourceVersion == cm.ResourceVersion {
		t.Fatalf("delete: %v; the returned object must carry the deletion's revision", err)
	}
	if _, err := s.Get(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestListPagesAndCompactedRevisions(t *testing.T) {
	s, ctx := newStore(t), context.Background()
	for _, n := range []string{"a", "b", "c"} {
		if err := s.Create(ctx, "/registry/core/configmaps/ns/"+n, configMap(n, n)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.List(ctx, "/registry/core/configmaps/ns/", "", 0, 2)
	if err != nil || len(first.Objects) != 2 || !first.More || first.Remain != 1 {
		t.Fatalf("first page: %v %+v", err, first)
	}
	rest, err := s.List(ctx, "/registry/core/configmaps/ns/", first.NextKey, first.Revision, 2)
	if err != nil || len(rest.Objects) != 1 || rest.More || rest.Objects[0].(*corev1.ConfigMap).Name != "c" {
		t.Fatalf("second page: %v %+v", err, rest)
	}
	if err := s.Create(ctx, "/registry/core/configmaps/ns/d", configMap("d", "d")); err != nil {
		t.Fatal(err)
	}
	rev, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, "/registry/core/configmaps/ns/", "", first.Revision, 0); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("list at a compacted revision: want ErrCompacted, got %v", err)
	}
}
