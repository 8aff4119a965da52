package garbagecollector_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/record"

	"github.com/berth-io/berth/reconciler/controllers/garbagecollector"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

const ns = "default"

// start runs a server and a collector as the controller manager.
func start(t *testing.T) kubernetes.Interface {
	t.Helper()
	s := servertest.Start(t)
	s.Namespace(ns)
	cfg := s.ConfigAs(server.ControllerManagerUser)
	client := kubernetes.NewForConfigOrDie(cfg)
	meta := metadata.NewForConfigOrDie(cfg)
	factory := metadatainformer.NewSharedInformerFactoryWithOptions(meta, 0, metadatainformer.WithTransform(garbagecollector.Transform))
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "garbage-collector-controller"})
	gc := garbagecollector.New(client, meta, factory, recorder, garbagecollector.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); gc.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
		broadcaster.Shutdown()
	})
	return s.Admin
}

func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// never checks that cond stays false for a while.
func never(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 2*time.Second, true, cond)
	if err == nil {
		t.Fatalf("%s happened", what)
	}
}

func configMap(t *testing.T, c kubernetes.Interface, name string, finalizers []string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
	t.Helper()
	cm, err := c.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: owners, Finalizers: finalizers},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func ownedBy(cm *corev1.ConfigMap, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: cm.Name, UID: cm.UID, BlockOwnerDeletion: &block}
}

func gone(c kubernetes.Interface, name string) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}
}

func deleteWith(t *testing.T, c kubernetes.Interface, name string, policy metav1.DeletionPropagation) {
	t.Helper()
	if err := c.CoreV1().ConfigMaps(ns).Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		t.Fatal(err)
	}
}

func TestBackgroundDeletionCollectsDependentsWhoseOwnersAreAllGone(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	owner := configMap(t, c, "owner", nil)
	other := configMap(t, c, "other-owner", nil)
	configMap(t, c, "dependent", nil, ownedBy(owner, false))
	configMap(t, c, "two-owners", nil, ownedBy(owner, false), ownedBy(other, false))
	secret, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: "secret-dependent", OwnerReferences: []metav1.OwnerReference{ownedBy(owner, false)},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A reference to an owner with the right name but an old UID: that
	// owner is gone, whatever now has the name.
	stale := ownedBy(other, false)
	stale.UID = types.UID("00000000-0000-0000-0000-000000000000")
	configMap(t, c, "stale-reference", nil, stale)
	eventually(t, "the dependent of a gone owner UID to be collected", gone(c, "stale-reference"))

	never(t, "collecting dependents of a live owner", gone(c, "dependent"))
	deleteWith(t, c, "owner", metav1.DeletePropagationBackground)
	eventually(t, "the dependent to be collected", gone(c, "dependent"))
	eventually(t, "the secret dependent to be collected", func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().Secrets(ns).Get(ctx, secret.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	eventually(t, "the dependent with a live owner to lose the reference to the gone one", func(ctx context.Context) (bool, error) {
		cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, "two-owners", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return len(cm.OwnerReferences) == 1 && cm.OwnerReferences[0].UID == other.UID, nil
	})
}

func TestForegroundDeletionKeepsTheOwnerUntilBlockingDependentsAreGone(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	const hold = "example.com/hold"
	// owner <- middle <- leaf, both blocking; the leaf is held by a
	// finalizer of its own, so the chain waits for it.
	owner := configMap(t, c, "owner", nil)
	middle := configMap(t, c, "middle", nil, ownedBy(owner, true))
	configMap(t, c, "leaf", []string{hold}, ownedBy(middle, true))
	configMap(t, c, "not-blocking", nil, ownedBy(owner, false))

	deleteWith(t, c, "owner", metav1.DeletePropagationForeground)
	eventually(t, "the held leaf to be deleted", func(ctx context.Context) (bool, error) {
		cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, "leaf", metav1.GetOptions{})
		return err == nil && cm.DeletionTimestamp != nil, err
	})
	eventually(t, "the non-blocking dependent to be collected", gone(c, "not-blocking"))
	never(t, "the owner going while a blocking dependent stays", gone(c, "owner"))
	for _, name := range []string{"owner", "middle"} {
		cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.DeletionTimestamp == nil || len(cm.Finalizers) != 1 || cm.Finalizers[0] != metav1.FinalizerDeleteDependents {
			t.Fatalf("%s, waiting for its dependents, has deletionTimestamp %v and finalizers %v", name, cm.DeletionTimestamp, cm.Finalizers)
		}
	}

	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": nil}})
	if _, err := c.CoreV1().ConfigMaps(ns).Patch(ctx, "leaf", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"leaf", "middle", "owner"} {
		eventually(t, name+" to go", gone(c, name))
	}
}

func TestOrphanDeletionLeavesDependentsWithoutTheReference(t *testing.T) {
	c := start(t)
	owner := configMap(t, c, "owner", nil)
	other := configMap(t, c, "other-owner", nil)
	configMap(t, c, "dependent", nil, ownedBy(owner, true))
	configMap(t, c, "two-owners", nil, ownedBy(owner, false), ownedBy(other, false))

	deleteWith(t, c, "owner", metav1.DeletePropagationOrphan)
	eventually(t, "the owner to go", gone(c, "owner"))
	never(t, "an orphaned dependent being collected", gone(c, "dependent"))
	for name, want := range map[string]int{"dependent": 0, "two-owners": 1} {
		cm, err := c.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(cm.OwnerReferences) != want {
			t.Errorf("%s keeps owner references %v", name, cm.OwnerReferences)
		}
		for _, r := range cm.OwnerReferences {
			if r.UID == owner.UID {
				t.Errorf("%s still names the orphaning owner", name)
			}
		}
	}
}
