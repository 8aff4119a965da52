package replicaset

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

// TestStaleCacheNeverCreatesTwice runs sync against an informer cache that
// has not seen the pods the previous sync created: expectations must hold
// the second sync back until the creations show up.
func TestStaleCacheNeverCreatesTwice(t *testing.T) {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "rs-uid"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}},
		},
	}
	client := fake.NewClientset(rs)
	var creates atomic.Int32
	var createdPods []*corev1.Pod
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		n := creates.Add(1)
		p.Name = fmt.Sprintf("%s%d", p.GenerateName, n)
		createdPods = append(createdPods, p.DeepCopy())
		return false, nil, nil // let the tracker store it
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, factory, record.NewFakeRecorder(100), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The informers are never started: the cache holds what we put there.
	if err := factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(rs); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if creates.Load() != 3 {
		t.Fatalf("first sync created %d pods, want 3", creates.Load())
	}
	for range 3 {
		if err := c.sync(ctx, "ns/web"); err != nil {
			t.Fatal(err)
		}
	}
	if creates.Load() != 3 {
		t.Fatalf("syncs on a stale cache created %d pods in all, want 3", creates.Load())
	}

	// The informer catches up with two of the three: still waiting.
	podIndexer := factory.Core().V1().Pods().Informer().GetIndexer()
	for _, p := range createdPods[:2] {
		if err := podIndexer.Add(p); err != nil {
			t.Fatal(err)
		}
		c.addPod(p)
	}
	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if creates.Load() != 3 {
		t.Fatalf("a partly caught-up cache created %d pods in all, want 3", creates.Load())
	}

	// The third pod is deleted before the informer ever shows it: once
	// the deletion is seen the controller replaces it.
	c.addPod(createdPods[2])
	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if creates.Load() != 4 {
		t.Fatalf("after catching up the controller created %d pods in all, want 4 (one replacement)", creates.Load())
	}
}
