package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// Errors the Store returns; the API layer maps them to metav1.Status.
var (
	// ErrNotFound: no object at the key.
	ErrNotFound = errors.New("object not found")
	// ErrExists: Create found the key taken.
	ErrExists = errors.New("object already exists")
	// ErrCompacted: the requested revision is older than etcd keeps.
	ErrCompacted = errors.New("revision compacted")
	// ErrTooLarge: etcd refused the write as larger than its request limit.
	ErrTooLarge = errors.New("object too large for etcd")
)

// Store reads and writes objects in etcd. It holds no state of its own.
type Store struct {
	client  *clientv3.Client
	codec   *Codec
	latency *prometheus.HistogramVec
}

// New returns a Store writing through client with codec.
func New(client *clientv3.Client, codec *Codec) *Store {
	return &Store{client: client, codec: codec, latency: newLatency()}
}

// Client is the etcd client the Store writes through.
func (s *Store) Client() *clientv3.Client { return s.client }

// Codec is the stored form of objects.
func (s *Store) Codec() *Codec { return s.codec }

// Create writes obj at key if, and only if, the key is absent, and stamps
// obj with the new resourceVersion.
func (s *Store) Create(ctx context.Context, key string, obj runtime.Object) error {
	data, err := s.codec.Encode(obj)
	if err != nil {
		return err
	}
	start := time.Now()
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(data))).
		Commit()
	if err := s.observe("create", start, err); err != nil {
		return err
	}
	if !resp.Succeeded {
		return ErrExists
	}
	return setRevision(obj, resp.Header.Revision)
}

// Get reads the object at key from etcd (a linearizable read).
func (s *Store) Get(ctx context.Context, key string) (runtime.Object, error) {
	start := time.Now()
	resp, err := s.client.Get(ctx, key)
	if err := s.observe("get", start, err); err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrNotFound
	}
	return s.codec.Decode(resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
}

// UpdateFunc computes the next state of an object from its current state.
// It receives a copy it may modify. Returning an error aborts the update.
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// GuaranteedUpdate applies update to the object at key with compare-and-swap,
// retrying on concurrent writes. cached, when not nil, is a possibly stale
// copy used for the first attempt to save a read; if update rejects it, the
// object is read again from etcd before the error is believed. An update
// that changes nothing is not written.
func (s *Store) GuaranteedUpdate(ctx context.Context, key string, cached runtime.Object, update UpdateFunc) (runtime.Object, error) {
	return s.swap(ctx, "update", key, cached, func(current runtime.Object) (*clientv3.Op, runtime.Object, error) {
		next, err := update(current.DeepCopyObject())
		if err != nil {
			return nil, nil, err
		}
		data, err := s.codec.Encode(next)
		if err != nil {
			return nil, nil, err
		}
		if old, err := s.codec.Encode(current); err == nil && bytes.Equal(old, data) {
			return nil, current, nil
		}
		put := clientv3.OpPut(key, string(data))
		return &put, next, nil
	})
}

// Precondition checks the current object before a delete.
type Precondition func(current runtime.Object) error

// Delete removes the object at key if check accepts its current state. It
// returns the last state, stamped with the revision of the deletion.
func (s *Store) Delete(ctx context.Context, key string, cached runtime.Object, check Precondition) (runtime.Object, error) {
	return s.swap(ctx, "delete", key, cached, func(current runtime.Object) (*clientv3.Op, runtime.Object, error) {
		if check != nil {
			if err := check(current); err != nil {
				return nil, nil, err
			}
		}
		del := clientv3.OpDelete(key)
		return &del, current.DeepCopyObject(), nil // current may be a shared cached object; the result gets the deletion revision
	})
}

// attemptFunc decides a write from the current state of an object: the
// etcd operation (nil for none) and the object to return once it is done.
type attemptFunc func(current runtime.Object) (*clientv3.Op, runtime.Object, error)

// swap runs attempt against the object at key and commits its operation
// only if the object is still at the revision attempt saw, trying again
// with the newer state otherwise. An error from attempt on a cached
// (possibly stale) state is checked against a fresh read first.
func (s *Store) swap(ctx context.Context, operation, key string, cached runtime.Object, attempt attemptFunc) (runtime.Object, error) {
	current, fresh := cached, false
	if current == nil {
		obj, err := s.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		current, fresh = obj, true
	}
	for {
		op, result, err := attempt(current)
		if err != nil {
			if fresh {
				return nil, err
			}
			if current, err = s.Get(ctx, key); err != nil {
				return nil, err
			}
			fresh = true
			continue
		}
		if op == nil && fresh {
			return result, nil
		}
		// Nothing to write on a cached state is only true if that state is
		// still the stored one: the same compare, with nothing to do.
		rev, err := revisionOf(current)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		txn := s.client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev))
		if op != nil {
			txn = txn.Then(*op)
		}
		resp, err := txn.Else(clientv3.OpGet(key)).Commit()
		if err := s.observe(operation, start, err); err != nil {
			return nil, err
		}
		if resp.Succeeded && op == nil {
			return result, nil
		}
		if resp.Succeeded {
			return result, setRevision(result, resp.Header.Revision)
		}
		if current, err = s.fromGetResponse(resp); err != nil {
			return nil, err
		}
		fresh = true
	}
}

// ListResult is one page of a List.
type ListResult struct {
	Objects   []runtime.Object
	Keys      []string // the etcd key of each object
	Data      [][]byte // the stored form of each object
	Revisions []int64  // the mod revision of each object
	Revision  int64    // the revision the page was read at
	NextKey   string
	More      bool
	Remain    int64 // objects after this page
}

// List reads up to limit objects (0: all) with keys in [startKey, end of
// prefix) at revision rev (0: the newest).
func (s *Store) List(ctx context.Context, prefix, startKey string, rev, limit int64) (*ListResult, error) {
	if startKey == "" {
		startKey = prefix
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix))}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(limit))
	}
	start := time.Now()
	resp, err := s.client.Get(ctx, startKey, opts...)
	if err := s.observe("list", start, err); err != nil {
		return nil, err
	}
	out := &ListResult{Revision: resp.Header.Revision, Objects: make([]runtime.Object, 0, len(resp.Kvs))}
	if rev > 0 {
		out.Revision = rev
	}
	for _, kv := range resp.Kvs {
		obj, err := s.codec.Decode(kv.Value, kv.ModRevision)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kv.Key, err)
		}
		out.Objects = append(out.Objects, obj)
		out.Keys = append(out.Keys, string(kv.Key))
		out.Data = append(out.Data, kv.Value)
		out.Revisions = append(out.Revisions, kv.ModRevision)
	}
	if resp.More && len(resp.Kvs) > 0 {
		out.More = true
		out.NextKey = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		out.Remain = resp.Count - int64(len(resp.Kvs))
	}
	return out, nil
}

// CurrentRevision is etcd's newest revision (one round trip).
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, CompactRevisionKey, clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

func (s *Store) fromGetResponse(resp *clientv3.TxnResponse) (runtime.Object, error) {
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, ErrNotFound
	}
	return s.codec.Decode(kvs[0].Value, kvs[0].ModRevision)
}

func setRevision(obj runtime.Object, rev int64) error {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	accessor.SetResourceVersion(strconv.FormatInt(rev, 10))
	return nil
}

func revisionOf(obj runtime.Object) (int64, error) {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(accessor.GetResourceVersion(), 10, 64)
}
