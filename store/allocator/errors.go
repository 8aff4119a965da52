package allocator

import (
	"errors"
	"fmt"
)

// The reasons an allocation is refused. Errors returned by the allocators
// wrap one of them in an *Error; test with errors.Is.
var (
	// ErrAllocated means the requested item is already held by someone.
	ErrAllocated = errors.New("already allocated")
	// ErrNotInRange means the requested item is outside the allocator's range.
	ErrNotInRange = errors.New("not in the valid range")
	// ErrFull means no free item is left.
	ErrFull = errors.New("range is full")
)

// Error is a refused allocation: which item of which range, and why.
type Error struct {
	// Err is ErrAllocated, ErrNotInRange or ErrFull.
	Err error
	// Kind is "IP" or "port".
	Kind string
	// Item is the requested item ("10.96.0.10", "30080"); empty for ErrFull.
	Item string
	// Range is the allocator's range ("10.96.0.0/16", "30000-32767").
	Range string
	// Owner is who holds the item, for ErrAllocated when known. It is not
	// part of the message: it may name an object in another namespace.
	Owner string
}

// Error says which item or range was refused and why.
func (e *Error) Error() string {
	if e.Item == "" {
		return fmt.Sprintf("%s range %s: %s", e.Kind, e.Range, e.Detail())
	}
	return fmt.Sprintf("%s %s: %s", e.Kind, e.Item, e.Detail())
}

// Detail is kube-apiserver's wording of the refusal, the text it puts after
// the field path and value of a 422 Invalid ("provided IP is already
// allocated").
func (e *Error) Detail() string {
	switch e.Err {
	case ErrAllocated:
		return fmt.Sprintf("provided %s is already allocated", e.Kind)
	case ErrNotInRange:
		return fmt.Sprintf("provided %s is not in the valid range. The range of valid %ss is %s", e.Kind, e.Kind, e.Range)
	}
	return e.Err.Error()
}

// Unwrap returns the reason, one of the Err* variables.
func (e *Error) Unwrap() error { return e.Err }
