package watchcache

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// historySize is how many changes per resource a watch can resume across.
const historySize = 2048

// watcherBuffer is how far a watcher may fall behind before it is dropped
// (it then resumes from its last resourceVersion, as client-go does).
const watcherBuffer = 512

// bookmarkInterval is how often idle watchers that asked for bookmarks get one.
const bookmarkInterval = 10 * time.Second

// ErrGone: the requested resourceVersion is older than the history kept.
var ErrGone = errors.New("too old resource version")

// AttrFunc returns what label and field selectors match an object on.
type AttrFunc func(obj runtime.Object) (labels.Set, fields.Set)

// DecodeFunc turns a stored object back into an object with
// resourceVersion rev.
type DecodeFunc func(data []byte, rev int64) (runtime.Object, error)

// Filter selects objects for a list or a watch.
type Filter struct {
	Namespace string // empty: all namespaces
	Label     labels.Selector
	Field     fields.Selector
}

// Event is one change as a watcher sees it. Object is shared between
// watchers and must not be modified; Cache memoises its encodings.
// Bookmarks carry no Object, only Rev.
type Event struct {
	Type   watch.EventType
	Object runtime.Object
	Rev    int64
	// InitialEnd marks the bookmark that ends a watch's initial events.
	InitialEnd bool
	// Encoding serializes the encoders of a shared event: encoding writes
	// into the object (a Quantity caches its string form), so watchers take
	// turns, and the first one's frame is kept in Cache for the others.
	Encoding sync.Mutex
	Cache    sync.Map // media type → encoded frame
}

// entry is one cached object in its stored (protobuf) form, about a third
// of its decoded size, with what selectors need already extracted.
type entry struct {
	key    string
	data   []byte
	rev    int64
	labels labels.Set
	fields fields.Set
}

// change is one entry of the history: what happened at rev.
type change struct {
	typ       watch.EventType
	rev       int64
	cur, prev *entry // cur is nil for a deletion
	// live is the event watchers were sent; the history keeps only entries.
	live *Event
}

// Resource is the cache of one resource (one key prefix).
type Resource struct {
	prefix string
	attrs  AttrFunc
	decode DecodeFunc

	mu           sync.RWMutex
	items        map[string]*entry
	rev          int64
	history      []*change // ring buffer, oldest first from start
	start        int
	oldest       int64 // history is complete for revisions after oldest
	watchers     map[*Watcher]struct{}
	lastBookmark time.Time
}

func newResource(prefix string, attrs AttrFunc, decode DecodeFunc) *Resource {
	return &Resource{prefix: prefix, attrs: attrs, decode: decode, items: map[string]*entry{}, watchers: map[*Watcher]struct{}{}}
}

// newEntry keeps data, the stored form of obj at revision rev.
func (r *Resource) newEntry(key string, obj runtime.Object, data []byte, rev int64) *entry {
	l, f := r.attrs(obj)
	return &entry{key: key, data: data, rev: rev, labels: l, fields: f}
}

// object decodes e, stamped with resourceVersion rev.
func (r *Resource) object(e *entry, rev int64) (runtime.Object, error) {
	return r.decode(e.data, rev)
}

func (r *Resource) fill(entries []*entry, rev, compacted int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range entries {
		r.items[e.key] = e
	}
	r.rev, r.oldest = rev, max(rev, compacted)
}

// Revision is the newest revision this cache has applied.
func (r *Resource) Revision() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.rev
}

// Get returns the cached object at key, a copy of its own.
func (r *Resource) Get(key string) (runtime.Object, bool) {
	r.mu.RLock()
	e, ok := r.items[key]
	r.mu.RUnlock()
	if !ok {
		return nil, false
	}
	obj, err := r.object(e, e.rev)
	if err != nil {
		return nil, false
	}
	return obj, true
}

// List returns the cached objects f selects, in key order, and the revision
// they are current at. The objects are the caller's own.
func (r *Resource) List(f Filter) ([]runtime.Object, int64) {
	r.mu.RLock()
	matched := make([]*entry, 0, len(r.items))
	for _, e := range r.items {
		if r.matches(f, e) {
			matched = append(matched, e)
		}
	}
	rev := r.rev
	r.mu.RUnlock()
	sort.Slice(matched, func(i, j int) bool { return matched[i].key < matched[j].key })
	out := make([]runtime.Object, 0, len(matched))
	for _, e := range matched {
		if obj, err := r.object(e, e.rev); err == nil {
			out = append(out, obj)
		}
	}
	return out, rev
}

func (r *Resource) matches(f Filter, e *entry) bool {
	if e == nil {
		return false
	}
	if f.Namespace != "" && !strings.HasPrefix(e.key, r.prefix+f.Namespace+"/") {
		return false
	}
	if f.Label != nil && !f.Label.Empty() && !f.Label.Matches(e.labels) {
		return false
	}
	if f.Field != nil && !f.Field.Empty() && !f.Field.Matches(e.fields) {
		return false
	}
	return true
}

// put records obj (stored as data) at key as of revision rev.
func (r *Resource) put(key string, obj runtime.Object, data []byte, rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.newEntry(key, obj, data, rev)
	prev := r.items[key]
	r.items[key] = cur
	typ := watch.Modified
	if prev == nil {
		typ = watch.Added
	}
	r.record(&change{typ: typ, rev: rev, cur: cur, prev: prev, live: &Event{Type: typ, Object: obj, Rev: rev}})
}

// remove records the deletion of key at revision rev.
func (r *Resource) remove(key string, rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.items[key]
	if prev == nil {
		return
	}
	delete(r.items, key)
	c := &change{typ: watch.Deleted, rev: rev, prev: prev}
	if last, err := r.object(prev, rev); err == nil {
		c.live = &Event{Type: watch.Deleted, Object: last, Rev: rev}
	}
	r.record(c)
}

// record hands c to every watcher and appends it to the history, which
// keeps the entries but not the decoded event. r.mu is held.
func (r *Resource) record(c *change) {
	r.rev = max(r.rev, c.rev)
	for w := range r.watchers {
		if ev := w.view(c); ev != nil {
			r.send(w, ev)
		}
	}
	c.live = nil
	if len(r.history) < historySize {
		r.history = append(r.history, c)
	} else {
		r.oldest = max(r.oldest, r.history[r.start].rev)
		r.history[r.start] = c
		r.start = (r.start + 1) % historySize
	}
}

// send delivers ev without blocking; a watcher too slow to keep up is closed.
func (r *Resource) send(w *Watcher, ev *Event) {
	select {
	case w.ch <- ev:
	default:
		delete(r.watchers, w)
		close(w.ch)
	}
}

func (r *Resource) progress(rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rev = max(r.rev, rev)
	if time.Since(r.lastBookmark) < bookmarkInterval {
		return
	}
	r.lastBookmark = time.Now()
	for w := range r.watchers {
		if w.bookmarks {
			r.send(w, &Event{Type: watch.Bookmark, Rev: r.rev})
		}
	}
}

func (r *Resource) compacted(rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.oldest = max(r.oldest, rev)
}

// WatchOptions say where a watch starts and what it wants.
type WatchOptions struct {
	// Revision: deliver changes after it. Ignored with InitialEvents.
	Revision int64
	// InitialEvents: start with an ADDED event for every selected object,
	// then a bookmark marked as the end of the initial events.
	InitialEvents bool
	// Bookmarks: send periodic bookmarks.
	Bookmarks bool
	Filter    Filter
}

// Watch starts a watch. It fails with ErrGone when opts.Revision is older
// than the history kept.
func (r *Resource) Watch(opts WatchOptions) (*Watcher, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := &Watcher{resource: r, filter: opts.Filter, bookmarks: opts.Bookmarks, ch: make(chan *Event, watcherBuffer)}
	if opts.InitialEvents {
		keys := make([]string, 0, len(r.items))
		for key, e := range r.items {
			if r.matches(opts.Filter, e) {
				keys = append(keys, key)
			}
		}
		sort.Strings(keys)
		w.initial = make([]*Event, 0, len(keys)+1)
		for _, k := range keys {
			e := r.items[k]
			if obj, err := r.object(e, e.rev); err == nil {
				w.initial = append(w.initial, &Event{Type: watch.Added, Object: obj, Rev: r.rev})
			}
		}
		w.initial = append(w.initial, &Event{Type: watch.Bookmark, Rev: r.rev, InitialEnd: true})
	} else {
		if opts.Revision < r.oldest {
			return nil, ErrGone
		}
		for i := range r.history {
			c := r.history[(r.start+i)%len(r.history)]
			if c.rev <= opts.Revision {
				continue
			}
			if ev := w.view(c); ev != nil {
				w.initial = append(w.initial, ev)
			}
		}
	}
	r.watchers[w] = struct{}{}
	return w, nil
}

// Watcher receives the changes one watch selects.
type Watcher struct {
	resource  *Resource
	filter    Filter
	bookmarks bool
	initial   []*Event
	ch        chan *Event
	stopOnce  sync.Once
}

// Next returns the next event. It returns io.EOF when the watcher was
// dropped for falling behind, and ctx's error when ctx ends.
func (w *Watcher) Next(ctx context.Context) (*Event, error) {
	if len(w.initial) > 0 {
		ev := w.initial[0]
		w.initial = w.initial[1:]
		return ev, nil
	}
	select {
	case ev, ok := <-w.ch:
		if !ok {
			return nil, io.EOF
		}
		return ev, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Pending reports whether an event is ready without waiting.
func (w *Watcher) Pending() bool { return len(w.initial) > 0 || len(w.ch) > 0 }

// Stop ends the watch.
func (w *Watcher) Stop() {
	w.stopOnce.Do(func() {
		r := w.resource
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.watchers[w]; ok {
			delete(r.watchers, w)
			close(w.ch)
		}
	})
}

// view is the event this watcher sees for c: selectors turn an object
// entering the selection into ADDED and one leaving it into DELETED. The
// live event of c is shared; replayed history is decoded afresh.
func (w *Watcher) view(c *change) *Event {
	r := w.resource
	now, before := r.matches(w.filter, c.cur), r.matches(w.filter, c.prev)
	switch {
	case now && before, now && c.prev == nil, !now && c.cur == nil && before:
		if c.live != nil {
			return c.live
		}
		src := c.cur
		if src == nil {
			src = c.prev
		}
		return r.event(c.typ, src, c.rev)
	case now:
		return r.event(watch.Added, c.cur, c.rev)
	case before:
		return r.event(watch.Deleted, c.prev, c.rev)
	}
	return nil
}

// event decodes e as an event of type typ at revision rev.
func (r *Resource) event(typ watch.EventType, e *entry, rev int64) *Event {
	obj, err := r.object(e, rev)
	if err != nil {
		return nil
	}
	return &Event{Type: typ, Object: obj, Rev: rev}
}
