// Package watchcache serves lists and watches from memory. One etcd watch on
// the whole registry keeps every resource's cache current, so thousands of
// watchers cost etcd nothing and a consistent list costs one round trip.
package watchcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/berth-io/berth/store/storage"
)

// RegistryPrefix is the etcd prefix under which every object lives:
// /registry/<group>/<resource>/[<namespace>/]<name>.
const RegistryPrefix = "/registry/"

// ErrTooLarge means etcd did not reach a requested revision in time.
var ErrTooLarge = errors.New("too large resource version")

// Cacher owns the one etcd watch and the per-resource caches it feeds.
type Cacher struct {
	store     *storage.Store
	watcher   clientv3.Watcher // its own connection, so events never queue behind writes
	log       *slog.Logger
	resources map[string]*Resource // by key prefix, "/registry/<group>/<resource>/"

	mu   sync.Mutex
	cond *sync.Cond
	rev  int64 // every event up to rev has been applied
}

// NewCacher returns a Cacher reading from store and following changes
// through watcher (a client on its own connection, so that a burst of
// events never delays writes on the store's). Register resources, then Start.
func NewCacher(store *storage.Store, watcher clientv3.Watcher, log *slog.Logger) *Cacher {
	c := &Cacher{store: store, watcher: watcher, log: log, resources: map[string]*Resource{}}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Register adds a cache for the objects under prefix. attrs extracts what
// selectors match on. It must be called before Start.
func (c *Cacher) Register(prefix string, attrs AttrFunc) *Resource {
	r := newResource(prefix, attrs, c.store.Codec().Decode)
	c.resources[prefix] = r
	return r
}

// Start loads every registered resource from etcd and keeps them current
// until ctx ends. It returns once the caches are filled.
func (c *Cacher) Start(ctx context.Context) error {
	rev, err := c.store.CurrentRevision(ctx)
	if err != nil {
		return fmt.Errorf("loading the watch cache: %w", err)
	}
	initial := map[*Resource][]*entry{}
	for prefix, r := range c.resources {
		list, err := c.store.List(ctx, prefix, "", rev, 0)
		if err != nil {
			return fmt.Errorf("loading %s into the watch cache: %w", prefix, err)
		}
		for i, obj := range list.Objects {
			initial[r] = append(initial[r], r.newEntry(list.Keys[i], obj, list.Data[i], list.Revisions[i]))
		}
	}
	compacted := c.readCompactRevision(ctx)
	for _, r := range c.resources {
		r.fill(initial[r], rev, compacted)
	}
	c.mu.Lock()
	c.rev = rev
	c.mu.Unlock()
	go c.run(ctx, rev)
	return nil
}

// Revision is the newest revision every cache has applied.
func (c *Cacher) Revision() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rev
}

// WaitFresh blocks until the caches hold everything etcd had when it was
// called: what a consistent (resourceVersion="") read needs.
func (c *Cacher) WaitFresh(ctx context.Context) (int64, error) {
	rev, err := c.store.CurrentRevision(ctx)
	if err != nil {
		return 0, err
	}
	return rev, c.WaitFor(ctx, rev)
}

// WaitFor blocks until the caches have applied revision rev, asking etcd
// for a progress notification when no event is coming, for at most 3 s.
func (c *Cacher) WaitFor(ctx context.Context, rev int64) error {
	if c.Revision() >= rev {
		return nil
	}
	deadline := time.Now().Add(3 * time.Second)
	for attempt := 0; ; attempt++ {
		if err := c.waitUntil(ctx, rev, 10*time.Millisecond<<min(attempt, 4)); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: waited 3s for revision %d, cache at %d", ErrTooLarge, rev, c.Revision())
		}
		_ = c.watcher.RequestProgress(context.Background())
	}
}

func (c *Cacher) waitUntil(ctx context.Context, rev int64, d time.Duration) error {
	timer := time.AfterFunc(d, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer timer.Stop()
	end := time.Now().Add(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.rev < rev {
		if ctx.Err() != nil || !time.Now().Before(end) {
			return errors.New("not yet")
		}
		c.cond.Wait()
	}
	return nil
}

func (c *Cacher) run(ctx context.Context, from int64) {
	for ctx.Err() == nil {
		from = c.watch(ctx, from)
		if ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// watch follows etcd from revision from+1 and returns the last revision it
// applied when the watch ends.
func (c *Cacher) watch(ctx context.Context, from int64) int64 {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ch := c.watcher.Watch(wctx, RegistryPrefix, clientv3.WithPrefix(), clientv3.WithRev(from+1), clientv3.WithProgressNotify())
	for resp := range ch {
		if err := resp.Err(); err != nil {
			if resp.CompactRevision > 0 {
				c.log.Error("watch cache fell behind etcd compaction; history before it is lost", "compacted", resp.CompactRevision)
				return resp.CompactRevision - 1
			}
			c.log.Warn("etcd watch ended", "err", err)
			return from
		}
		if resp.IsProgressNotify() {
			c.advance(resp.Header.Revision)
			from = max(from, resp.Header.Revision)
			continue
		}
		for _, ev := range resp.Events {
			c.apply(ev)
			from = ev.Kv.ModRevision
		}
		c.advance(from)
	}
	return from
}

func (c *Cacher) apply(ev *clientv3.Event) {
	key := string(ev.Kv.Key)
	if key == storage.CompactRevisionKey {
		if rev, err := strconv.ParseInt(string(ev.Kv.Value), 10, 64); err == nil {
			for _, r := range c.resources {
				r.compacted(rev)
			}
		}
		return
	}
	r := c.resourceFor(key)
	if r == nil {
		return
	}
	if ev.Type == clientv3.EventTypeDelete {
		r.remove(key, ev.Kv.ModRevision)
		return
	}
	obj, err := c.store.Codec().Decode(ev.Kv.Value, ev.Kv.ModRevision)
	if err != nil {
		c.log.Error("undecodable object in etcd; skipping it", "key", key, "err", err)
		return
	}
	r.put(key, obj, ev.Kv.Value, ev.Kv.ModRevision)
}

func (c *Cacher) advance(rev int64) {
	c.mu.Lock()
	if rev > c.rev {
		c.rev = rev
		for _, r := range c.resources {
			r.progress(rev)
		}
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

func (c *Cacher) resourceFor(key string) *Resource {
	rest, ok := strings.CutPrefix(key, RegistryPrefix)
	if !ok {
		return nil
	}
	group, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return nil
	}
	resource, _, ok := strings.Cut(rest, "/")
	if !ok {
		return nil
	}
	return c.resources[RegistryPrefix+group+"/"+resource+"/"]
}

func (c *Cacher) readCompactRevision(ctx context.Context) int64 {
	resp, err := c.store.Client().Get(ctx, storage.CompactRevisionKey)
	if err != nil || len(resp.Kvs) == 0 {
		return 0
	}
	rev, _ := strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
	return rev
}
