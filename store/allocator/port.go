package allocator

import (
	"context"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults of the Service NodePort allocator, as in kube-apiserver.
const (
	// DefaultNodePortMin is the lowest default NodePort.
	DefaultNodePortMin = 30000
	// DefaultNodePortMax is the highest default NodePort.
	DefaultNodePortMax = 32767
	// NodePortPrefix is the etcd key prefix of NodePort allocations.
	NodePortPrefix = "/registry/ranges/servicenodeports/"
)

// PortAllocator hands out the NodePorts of Services from an inclusive port
// range. State lives in etcd, so several API servers may allocate from the
// same range concurrently.
type PortAllocator struct {
	r    *ranged
	tx   *Transaction
	port portItems
}

// NewPortAllocator returns an allocator for the ports min to max (inclusive)
// keeping its allocations under the etcd key prefix (e.g. NodePortPrefix).
func NewPortAllocator(client *clientv3.Client, prefix string, min, max int) (*PortAllocator, error) {
	if min < 1 || max > 65535 || min > max {
		return nil, fmt.Errorf("node port range %d-%d: want 1 <= min <= max <= 65535", min, max)
	}
	it := portItems{min: min, size: max - min + 1}
	static := staticBand(it.size, 16, 128, 32)
	r, err := newRanged(client, prefix, it, "port", fmt.Sprintf("%d-%d", min, max), it.size, 0, static)
	if err != nil {
		return nil, err
	}
	return &PortAllocator{r: r, port: it}, nil
}

// In returns the allocator working within tx: its allocations are undone by
// tx.Revert and its releases wait for tx.Commit.
func (a *PortAllocator) In(tx *Transaction) *PortAllocator {
	c := *a
	c.tx = tx
	return &c
}

// AllocateNext allocates a free port to owner (conventionally
// "namespace/name" of the Service) and returns it. When none is left the
// error wraps ErrFull.
func (a *PortAllocator) AllocateNext(ctx context.Context, owner string) (int, error) {
	off, err := a.r.allocateNext(ctx, a.tx, owner)
	if err != nil {
		return 0, err
	}
	return a.port.min + off, nil
}

// Allocate allocates port to owner. The error wraps ErrAllocated if the port
// is taken (even by the same owner) and ErrNotInRange if it is outside the
// range.
func (a *PortAllocator) Allocate(ctx context.Context, port int, owner string) error {
	off, err := a.r.parse(strconv.Itoa(port))
	if err != nil {
		return err
	}
	return a.r.allocate(ctx, a.tx, off, owner)
}

// Release frees port. Releasing a free port is not an error.
func (a *PortAllocator) Release(ctx context.Context, port int) error {
	off, err := a.r.parse(strconv.Itoa(port))
	if err != nil {
		return err
	}
	return a.r.release(ctx, a.tx, off)
}

// Repair makes the allocations match what the Services hold, freeing the
// allocations of objects that were never stored or were deleted without
// releasing (if allocated more than grace ago, so that requests in flight
// keep theirs) and recording items Services hold without an allocation.
// Run it at server start and periodically. inUse lists the Services' items
// as ports in decimal ("30080").
func (a *PortAllocator) Repair(ctx context.Context, grace time.Duration, inUse RepairFunc) (RepairReport, error) {
	return a.r.repair(ctx, grace, inUse)
}

// portItems maps offsets to ports: offset 0 is min.
type portItems struct {
	min, size int
}

func (it portItems) name(off int) string { return strconv.Itoa(it.min + off) }

func (it portItems) offset(name string) (int, bool) {
	port, err := strconv.Atoi(name)
	if err != nil || strconv.Itoa(port) != name {
		return 0, false
	}
	off := port - it.min
	return off, off >= 0 && off < it.size
}
