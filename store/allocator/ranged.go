package allocator

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxSize bounds a range (2^20 items, a /12 of IPv4 or a /108 of IPv6, the
// limits kube-apiserver puts on a service CIDR) so its bitset stays small.
const maxSize = 1 << 20

// pageSize is how many keys one etcd read returns when loading a range.
const pageSize = 10000

// items maps the offsets of a range to the names of its items, which are
// also the last segment of their etcd keys.
type items interface {
	// name is the item at offset, e.g. "10.96.0.10" or "30080".
	name(offset int) string
	// offset is the offset of the named item, false if the name is not an
	// item of the range.
	offset(name string) (int, bool)
}

// ranged is the etcd-backed state shared by the IP and port allocators: one
// key per allocated item under prefix, created with a compare-and-swap so
// that any number of API servers sharing the etcd never hand out an item
// twice. The bitset is only a hint of which items are taken, to find a free
// one in few round trips; etcd decides.
type ranged struct {
	client *clientv3.Client
	prefix string
	items  items
	kind   string // "IP" or "port", for errors
	span   string // the range as users write it, for errors
	size   int
	// AllocateNext hands out offsets in [reserved, size) only, preferring
	// [static, size); see pickFree.
	reserved, static int

	loadMu sync.Mutex // serialises the first load
	mu     sync.Mutex // guards taken and loaded
	taken  bitset
	loaded bool
}

// record is the value of an allocation key.
type record struct {
	// Owner names the object holding the item, as the caller chose.
	Owner string `json:"owner"`
	// Allocated is when the item was allocated; Repair leaves younger
	// unused allocations alone, as their object may be being created.
	Allocated time.Time `json:"allocated"`
}

func newRanged(client *clientv3.Client, prefix string, it items, kind, span string, size, reserved, static int) (*ranged, error) {
	if client == nil {
		return nil, fmt.Errorf("%s allocator for %s: no etcd client", kind, span)
	}
	if prefix == "" {
		return nil, fmt.Errorf("%s allocator for %s: empty etcd key prefix", kind, span)
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &ranged{
		client:   client,
		prefix:   prefix,
		items:    it,
		kind:     kind,
		span:     span,
		size:     size,
		reserved: reserved,
		static:   static,
		taken:    newBitset(size),
	}, nil
}

// allocateNext allocates a free offset to owner.
func (r *ranged) allocateNext(ctx context.Context, tx *Transaction, owner string) (int, error) {
	if err := r.ensureLoaded(ctx); err != nil {
		return 0, err
	}
	reloaded := false
	for {
		off, ok := r.claimFree()
		if !ok {
			if reloaded {
				return 0, &Error{Err: ErrFull, Kind: r.kind, Range: r.span}
			}
			// The hint may hold items other servers have released since.
			if err := r.reload(ctx); err != nil {
				return 0, err
			}
			reloaded = true
			continue
		}
		created, _, err := r.create(ctx, off, owner)
		if err != nil {
			return 0, err
		}
		if created {
			tx.add(r, off)
			return off, nil
		}
		// Another server took it first; it stays marked, try another.
	}
}

// allocate allocates the given offset to owner.
func (r *ranged) allocate(ctx context.Context, tx *Transaction, off int, owner string) error {
	r.mark(off)
	created, holder, err := r.create(ctx, off, owner)
	if err != nil {
		return err
	}
	if !created {
		return &Error{Err: ErrAllocated, Kind: r.kind, Item: r.items.name(off), Range: r.span, Owner: holder}
	}
	tx.add(r, off)
	return nil
}

// release frees the offset, or defers that to tx's Commit when tx is not
// nil. Releasing a free offset is not an error.
func (r *ranged) release(ctx context.Context, tx *Transaction, off int) error {
	if tx.deferRelease(r, off) {
		return nil
	}
	if _, err := r.client.Delete(ctx, r.key(off)); err != nil {
		return fmt.Errorf("release %s %s in etcd: %w", r.kind, r.items.name(off), err)
	}
	r.mu.Lock()
	r.taken.clear(off)
	r.mu.Unlock()
	return nil
}

// parse maps a requested item to its offset, or says it is not in range.
func (r *ranged) parse(item string) (int, error) {
	off, ok := r.items.offset(item)
	if !ok {
		return 0, &Error{Err: ErrNotInRange, Kind: r.kind, Item: item, Range: r.span}
	}
	return off, nil
}

func (r *ranged) key(off int) string { return r.prefix + r.items.name(off) }

// create writes the allocation key of off if it does not exist. It reports
// whether it did and, if not, who holds the key.
func (r *ranged) create(ctx context.Context, off int, owner string) (bool, string, error) {
	key := r.key(off)
	resp, err := r.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, encodeRecord(owner))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return false, "", fmt.Errorf("allocate %s %s in etcd: %w", r.kind, r.items.name(off), err)
	}
	if resp.Succeeded {
		return true, "", nil
	}
	holder := ""
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		holder = decodeRecord(kvs[0].Value).Owner
	}
	return false, holder, nil
}

// claimFree picks a free offset and marks it taken, so that concurrent
// callers in this process try different ones.
func (r *ranged) claimFree() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	off, ok := pickFree(r.taken, r.reserved, r.static, r.size, rand.IntN)
	if ok {
		r.taken.set(off)
	}
	return off, ok
}

func (r *ranged) mark(off int) {
	r.mu.Lock()
	r.taken.set(off)
	r.mu.Unlock()
}

func (r *ranged) ensureLoaded(ctx context.Context) error {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	r.mu.Lock()
	loaded := r.loaded
	r.mu.Unlock()
	if loaded {
		return nil
	}
	return r.reload(ctx)
}

// reload replaces the hint with the allocations etcd holds now.
func (r *ranged) reload(ctx context.Context) error {
	taken := newBitset(r.size)
	err := r.list(ctx, func(kv *mvccpb.KeyValue) {
		if off, ok := r.items.offset(strings.TrimPrefix(string(kv.Key), r.prefix)); ok {
			taken.set(off)
		}
	}, clientv3.WithKeysOnly())
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.taken, r.loaded = taken, true
	r.mu.Unlock()
	return nil
}

// list calls each for every allocation key, reading in pages at one revision.
func (r *ranged) list(ctx context.Context, each func(*mvccpb.KeyValue), opts ...clientv3.OpOption) error {
	end := clientv3.GetPrefixRangeEnd(r.prefix)
	from, rev := r.prefix, int64(0)
	for {
		page := append([]clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize), clientv3.WithRev(rev)}, opts...)
		resp, err := r.client.Get(ctx, from, page...)
		if err != nil {
			return fmt.Errorf("read %s allocations under %s from etcd: %w", r.kind, r.prefix, err)
		}
		for _, kv := range resp.Kvs {
			each(kv)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		rev = resp.Header.Revision
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// encodeRecord is the value of an allocation key for owner, allocated now.
func encodeRecord(owner string) string {
	// Marshal cannot fail: a string and a time of this century.
	value, _ := json.Marshal(record{Owner: owner, Allocated: time.Now().UTC()})
	return string(value)
}

// decodeRecord reads an allocation value. A value that is not a record is
// taken as a bare owner name allocated at an unknown (zero) time.
func decodeRecord(value []byte) record {
	var rec record
	if json.Unmarshal(value, &rec) != nil {
		return record{Owner: string(value)}
	}
	return rec
}
