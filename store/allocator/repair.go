package allocator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Use says that an object holds an item of a range.
type Use struct {
	// Item is an address ("10.96.0.10") or a port ("30080").
	Item string
	// Owner names the object, as it was named when allocating.
	Owner string
}

// RepairFunc lists the items the stored objects (Services) hold. Repair
// calls it after reading the allocations, so an item allocated and stored
// before the listing is seen in both.
type RepairFunc func(ctx context.Context) ([]Use, error)

// RepairReport says what Repair changed and what it left to a human.
type RepairReport struct {
	// Released are items allocated to no object, now free.
	Released []string
	// Recorded are items objects hold that were not allocated to them, now
	// allocated to them.
	Recorded []string
	// Problems describe what Repair cannot fix: items outside the range,
	// items held by two objects, keys that are not items of the range.
	Problems []string
}

// repair runs at server start and periodically, so that crashes between
// allocating an item and storing its object (or deleting the object and
// releasing the item) leak nothing. An unused allocation younger than grace
// is kept, as its object may be being created (grace should exceed the
// longest request); one held by an object but missing, or recorded for
// another owner, is written for that object. Changes are compare-and-swap:
// an allocation that changes meanwhile is left for the next run.
func (r *ranged) repair(ctx context.Context, grace time.Duration, inUse RepairFunc) (RepairReport, error) {
	var report RepairReport
	held := map[int]heldItem{}
	err := r.list(ctx, func(kv *mvccpb.KeyValue) {
		key := string(kv.Key)
		off, ok := r.items.offset(strings.TrimPrefix(key, r.prefix))
		if !ok {
			report.Problems = append(report.Problems, fmt.Sprintf("key %s names no %s of %s; left alone", key, r.kind, r.span))
			return
		}
		rec := decodeRecord(kv.Value)
		held[off] = heldItem{owner: rec.Owner, allocated: rec.Allocated, rev: kv.ModRevision}
	})
	if err != nil {
		return report, err
	}
	uses, err := inUse(ctx)
	if err != nil {
		return report, fmt.Errorf("repair %s allocations of %s: list items in use: %w", r.kind, r.span, err)
	}
	plan := planRepair(held, uses, r.items, r.kind, r.span, time.Now().Add(-grace))
	report.Problems = append(report.Problems, plan.problems...)

	for _, c := range plan.release {
		key := r.key(c.offset)
		done, err := r.swap(ctx, clientv3.Compare(clientv3.ModRevision(key), "=", c.rev), clientv3.OpDelete(key))
		if err != nil {
			return report, err
		}
		if done {
			report.Released = append(report.Released, r.items.name(c.offset))
		}
	}
	for _, c := range plan.record {
		key := r.key(c.offset)
		cmp := clientv3.Compare(clientv3.ModRevision(key), "=", c.rev)
		if c.rev == 0 {
			cmp = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		}
		done, err := r.swap(ctx, cmp, clientv3.OpPut(key, encodeRecord(c.owner)))
		if err != nil {
			return report, err
		}
		if done {
			report.Recorded = append(report.Recorded, r.items.name(c.offset))
		}
	}
	return report, r.reload(ctx)
}

// swap performs op if cmp holds and reports whether it did.
func (r *ranged) swap(ctx context.Context, cmp clientv3.Cmp, op clientv3.Op) (bool, error) {
	resp, err := r.client.Txn(ctx).If(cmp).Then(op).Commit()
	if err != nil {
		return false, fmt.Errorf("repair %s allocations of %s in etcd: %w", r.kind, r.span, err)
	}
	return resp.Succeeded, nil
}

// heldItem is an allocation as read from etcd.
type heldItem struct {
	owner     string
	allocated time.Time
	rev       int64 // mod revision of the key
}

// repairChange is one write of a repair: release the allocation at offset,
// or allocate it to owner. rev is the key's mod revision when read, 0 if
// the key did not exist.
type repairChange struct {
	offset int
	owner  string
	rev    int64
}

// repairPlan is what repair should write.
type repairPlan struct {
	release  []repairChange
	record   []repairChange
	problems []string
}

// planRepair compares the allocations held with the items in use:
// allocations no object uses and made before cutoff are released; items in
// use but not allocated to their user are recorded. Results are in offset
// order.
func planRepair(held map[int]heldItem, uses []Use, it items, kind, span string, cutoff time.Time) repairPlan {
	var plan repairPlan
	wanted := map[int]string{}
	for _, u := range uses {
		off, ok := it.offset(u.Item)
		if !ok {
			plan.problems = append(plan.problems, fmt.Sprintf("%s %s of %s is not in the valid range %s", kind, u.Item, u.Owner, span))
			continue
		}
		if prev, dup := wanted[off]; dup {
			if prev != u.Owner {
				plan.problems = append(plan.problems, fmt.Sprintf("%s %s is held by both %s and %s", kind, u.Item, prev, u.Owner))
			}
			continue
		}
		wanted[off] = u.Owner
	}
	for _, off := range slices.Sorted(maps.Keys(wanted)) {
		h, ok := held[off]
		switch {
		case !ok:
			plan.record = append(plan.record, repairChange{offset: off, owner: wanted[off]})
		case h.owner != wanted[off]:
			plan.record = append(plan.record, repairChange{offset: off, owner: wanted[off], rev: h.rev})
		}
	}
	for _, off := range slices.Sorted(maps.Keys(held)) {
		h := held[off]
		if _, used := wanted[off]; !used && h.allocated.Before(cutoff) {
			plan.release = append(plan.release, repairChange{offset: off, rev: h.rev})
		}
	}
	return plan
}
