package watchcache

import (
	"context"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/berth-io/berth/store/kinds"
	"github.com/berth-io/berth/store/storage"
)

const prefix = "/registry/core/configmaps/"

func podAttrs(obj runtime.Object) (labels.Set, fields.Set) {
	a, _ := meta.Accessor(obj)
	return labels.Set(a.GetLabels()), fields.Set{"metadata.name": a.GetName()}
}

func cm(ns, name string, rev int64, lbls map[string]string) (string, runtime.Object) {
	return prefix + ns + "/" + name, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls, ResourceVersion: strconv.FormatInt(rev, 10)}}
}

var codec = storage.NewCodec(kinds.NewScheme())

func newTestResource() *Resource {
	r := newResource(prefix, podAttrs, codec.Decode)
	r.fill(nil, 10, 0)
	return r
}

// store records obj at key as the cacher does with an etcd event.
func store(t *testing.T, r *Resource, key string, obj runtime.Object, rev int64) {
	t.Helper()
	data, err := codec.Encode(obj)
	if err != nil {
		t.Fatal(err)
	}
	r.put(key, obj, data, rev)
}

func nextEvent(t *testing.T, w *Watcher) *Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatalf("no event: %v", err)
	}
	return ev
}

func TestListFiltersByNamespaceAndLabelsInKeyOrder(t *testing.T) {
	r := newTestResource()
	for i, c := range []struct{ ns, name, tier string }{{"b", "z", "web"}, {"a", "y", "web"}, {"a", "x", "db"}} {
		key, obj := cm(c.ns, c.name, int64(11+i), map[string]string{"tier": c.tier})
		store(t, r, key, obj, int64(11+i))
	}
	web := labels.SelectorFromSet(labels.Set{"tier": "web"})
	objs, rev := r.List(Filter{Label: web})
	if rev != 13 || len(objs) != 2 || objs[0].(*corev1.ConfigMap).Name != "y" || objs[1].(*corev1.ConfigMap).Name != "z" {
		t.Fatalf("got %d objects at %d", len(objs), rev)
	}
	objs, _ = r.List(Filter{Namespace: "a"})
	if len(objs) != 2 {
		t.Fatalf("namespace a: %d objects", len(objs))
	}
}

func TestWatchFromRevisionReplaysHistoryThenFollows(t *testing.T) {
	r := newTestResource()
	key, obj := cm("ns", "a", 11, nil)
	store(t, r, key, obj, 11)
	_, obj2 := cm("ns", "a", 12, map[string]string{"v": "2"})
	store(t, r, key, obj2, 12)

	w, err := r.Watch(WatchOptions{Revision: 11})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := nextEvent(t, w); ev.Type != watch.Modified || ev.Rev != 12 {
		t.Fatalf("replayed %s at %d", ev.Type, ev.Rev)
	}
	r.remove(key, 13)
	ev := nextEvent(t, w)
	if ev.Type != watch.Deleted || ev.Rev != 13 {
		t.Fatalf("got %s at %d", ev.Type, ev.Rev)
	}
	if rv := ev.Object.(*corev1.ConfigMap).ResourceVersion; rv != "13" {
		t.Fatalf("deleted object carries resourceVersion %s, want the deletion's 13", rv)
	}
}

func TestWatchOlderThanHistoryIsGone(t *testing.T) {
	r := newTestResource()
	if _, err := r.Watch(WatchOptions{Revision: 5}); !errors.Is(err, ErrGone) {
		t.Fatalf("watch before the cache's start: want ErrGone, got %v", err)
	}
	for i := 0; i < historySize+5; i++ {
		key, obj := cm("ns", "x", int64(11+i), nil)
		store(t, r, key, obj, int64(11+i))
	}
	if _, err := r.Watch(WatchOptions{Revision: 12}); !errors.Is(err, ErrGone) {
		t.Fatalf("watch from an evicted revision: want ErrGone, got %v", err)
	}
	if _, err := r.Watch(WatchOptions{Revision: int64(11 + historySize)}); err != nil {
		t.Fatalf("watch within the history: %v", err)
	}
	r.compacted(int64(11 + historySize + 2))
	if _, err := r.Watch(WatchOptions{Revision: int64(11 + historySize)}); !errors.Is(err, ErrGone) {
		t.Fatalf("watch from before a compaction: want ErrGone, got %v", err)
	}
}

func TestInitialEventsEndWithMarkedBookmark(t *testing.T) {
	r := newTestResource()
	for i, name := range []string{"b", "a"} {
		key, obj := cm("ns", name, int64(11+i), nil)
		store(t, r, key, obj, int64(11+i))
	}
	w, err := r.Watch(WatchOptions{InitialEvents: true, Bookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, want := range []string{"a", "b"} {
		ev := nextEvent(t, w)
		if ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != want {
			t.Fatalf("want ADDED %s, got %s", want, ev.Type)
		}
	}
	end := nextEvent(t, w)
	if end.Type != watch.Bookmark || !end.InitialEnd || end.Rev != 12 {
		t.Fatalf("want the initial-events-end bookmark at 12, got %+v", end)
	}
}

func TestSelectorTransitionsBecomeAddedAndDeleted(t *testing.T) {
	r := newTestResource()
	key, obj := cm("ns", "a", 11, map[string]string{"tier": "db"})
	store(t, r, key, obj, 11)
	w, err := r.Watch(WatchOptions{Revision: 11, Filter: Filter{Label: labels.SelectorFromSet(labels.Set{"tier": "web"})}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	_, in := cm("ns", "a", 12, map[string]string{"tier": "web"})
	store(t, r, key, in, 12)
	if ev := nextEvent(t, w); ev.Type != watch.Added {
		t.Fatalf("entering the selector: want ADDED, got %s", ev.Type)
	}
	_, out := cm("ns", "a", 13, map[string]string{"tier": "db"})
	store(t, r, key, out, 13)
	ev := nextEvent(t, w)
	if ev.Type != watch.Deleted || ev.Object.(*corev1.ConfigMap).Labels["tier"] != "web" {
		t.Fatalf("leaving the selector: want DELETED of the last matching state, got %s", ev.Type)
	}
	if w.Pending() {
		t.Fatal("unexpected further events")
	}
}

func TestSlowWatcherIsDroppedNotBlocking(t *testing.T) {
	r := newTestResource()
	w, err := r.Watch(WatchOptions{Revision: 10})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for i := 0; i < watcherBuffer+10; i++ {
			key, obj := cm("ns", "x", int64(11+i), nil)
			store(t, r, key, obj, int64(11+i))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a slow watcher blocked writers")
	}
	var err2 error
	for i := 0; i <= watcherBuffer; i++ {
		if _, err2 = w.Next(context.Background()); err2 != nil {
			break
		}
	}
	if !errors.Is(err2, io.EOF) {
		t.Fatalf("slow watcher: want io.EOF after its buffer, got %v", err2)
	}
	w.Stop()
}

func TestObjectsFromTheCacheAreTheCallersOwn(t *testing.T) {
	r := newTestResource()
	key, obj := cm("ns", "a", 11, map[string]string{"v": "1"})
	store(t, r, key, obj, 11)
	got, ok := r.Get(key)
	if !ok {
		t.Fatal("not cached")
	}
	got.(*corev1.ConfigMap).Labels["v"] = "changed by a caller"
	again, _ := r.Get(key)
	if v := again.(*corev1.ConfigMap).Labels["v"]; v != "1" {
		t.Fatalf("a caller's change leaked into the cache: %q", v)
	}
	if rv := again.(*corev1.ConfigMap).ResourceVersion; rv != "11" {
		t.Fatalf("cached object carries resourceVersion %q, want 11", rv)
	}
}

func TestFieldSelectorsMatchMissingFieldsAsEmpty(t *testing.T) {
	r := newResource(prefix, func(obj runtime.Object) (labels.Set, fields.Set) {
		return nil, fields.Set{"metadata.name": obj.(*corev1.ConfigMap).Name}
	}, codec.Decode)
	r.fill(nil, 10, 0)
	key, obj := cm("ns", "a", 11, nil)
	store(t, r, key, obj, 11)
	unset := fields.OneTermEqualSelector("spec.nodeName", "")
	if objs, _ := r.List(Filter{Field: unset}); len(objs) != 1 {
		t.Fatalf("a field left out of the cache must match an empty value, got %d objects", len(objs))
	}
	if objs, _ := r.List(Filter{Field: fields.OneTermEqualSelector("spec.nodeName", "n1")}); len(objs) != 0 {
		t.Fatal("a missing field must not match a non-empty value")
	}
}
