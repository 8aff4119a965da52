package server

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

func TestWatchResumesFromResourceVersionAndExpiresAfterCompaction(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "w")
	cms := ts.client.CoreV1().ConfigMaps("w")
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var revs []string
	for i := 0; i < 3; i++ {
		first.Data = map[string]string{"n": strconv.Itoa(i)}
		if first, err = cms.Update(ctx, first, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		revs = append(revs, first.ResourceVersion)
	}
	created, _ := strconv.ParseInt(revs[0], 10, 64)

	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: revs[0]})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		ev := next(t, w)
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if !ok || ev.Type != watch.Modified || cm.Data["n"] != strconv.Itoa(i) || cm.ResourceVersion != revs[i] {
			t.Fatalf("event %d after resourceVersion %s (updates at %v): %s %+v", i, revs[0], revs, ev.Type, ev.Object)
		}
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "b" {
		t.Fatalf("want ADDED b, got %s", ev.Type)
	}
	w.Stop()

	rev, err := ts.Store.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watch cache to learn of the compaction", func() bool {
		w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: strconv.FormatInt(created, 10)})
		if err != nil {
			return false
		}
		defer w.Stop()
		ev := next(t, w)
		status, ok := ev.Object.(*metav1.Status)
		return ev.Type == watch.Error && ok && status.Code == http.StatusGone && status.Reason == metav1.StatusReasonExpired
	})
	if _, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: strconv.FormatInt(created, 10), ResourceVersionMatch: metav1.ResourceVersionMatchExact}); !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("exact list at a compacted revision: want 410, got %v", err)
	}
}

func TestInformersSyncWithStreamingListAndSeeUpdates(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "inf")
	for _, name := range []string{"one", "two"} {
		if _, err := ts.client.CoreV1().ConfigMaps("inf").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(ts.client, 0, informers.WithNamespace("inf"))
	informer := factory.Core().V1().ConfigMaps().Informer()
	updates := make(chan string, 10)
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { updates <- obj.(*corev1.ConfigMap).Data["v"] },
	})
	factory.Start(ctx.Done())
	synced := make(chan bool, 1)
	go func() { synced <- cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) }()
	select {
	case ok := <-synced:
		if !ok {
			t.Fatal("informer never synced")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("informer did not sync within 10s: the streaming list never ended")
	}
	if n := len(informer.GetStore().List()); n != 2 {
		t.Fatalf("informer holds %d objects, want 2", n)
	}
	cm, _ := ts.client.CoreV1().ConfigMaps("inf").Get(ctx, "one", metav1.GetOptions{})
	cm.Data = map[string]string{"v": "changed"}
	if _, err := ts.client.CoreV1().ConfigMaps("inf").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-updates:
		if v != "changed" {
			t.Fatalf("informer saw %q", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("informer missed the update")
	}
}

func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
	return watch.Event{}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
