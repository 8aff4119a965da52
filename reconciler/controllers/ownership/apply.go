package ownership

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Patcher sends a patch body (of PatchType) for the named object.
type Patcher func(ctx context.Context, name string, body []byte) error

// Apply carries out c for owner (of kind gvk) with patch and returns the
// objects owner controls afterwards: c.Owned and the adoptions that took.
// Before the first adoption it calls fresh, which must read owner from the
// API server (not a cache): an owner that is gone, replaced or being deleted
// adopts nothing. Objects that vanished in the meantime are skipped; other
// failures are returned together after every patch was tried.
func Apply[T metav1.Object](ctx context.Context, c Claim[T], owner metav1.Object, gvk schema.GroupVersionKind, patch Patcher, fresh func(context.Context) (metav1.Object, error)) ([]T, error) {
	owned := append([]T(nil), c.Owned...)
	var errs []error
	if len(c.Adopt) > 0 {
		if err := mayAdopt(ctx, owner, fresh); err != nil {
			errs = append(errs, err)
		} else {
			for _, o := range c.Adopt {
				err := patch(ctx, o.GetName(), AdoptPatch(owner, gvk, o))
				switch {
				case err == nil:
					owned = append(owned, o)
				case !apierrors.IsNotFound(err):
					errs = append(errs, fmt.Errorf("adopting %s/%s: %w", o.GetNamespace(), o.GetName(), err))
				}
			}
		}
	}
	for _, o := range c.Release {
		err := patch(ctx, o.GetName(), ReleasePatch(owner, o))
		// Invalid: the object was replaced by one with another UID.
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("releasing %s/%s: %w", o.GetNamespace(), o.GetName(), err))
		}
	}
	return owned, errors.Join(errs...)
}

// mayAdopt checks on a fresh copy that owner still exists with the same UID
// and is not being deleted.
func mayAdopt(ctx context.Context, owner metav1.Object, fresh func(context.Context) (metav1.Object, error)) error {
	cur, err := fresh(ctx)
	if err != nil {
		return fmt.Errorf("checking %s/%s before adopting: %w", owner.GetNamespace(), owner.GetName(), err)
	}
	if cur.GetUID() != owner.GetUID() {
		return fmt.Errorf("%s/%s was replaced (uid %s, wanted %s); not adopting", owner.GetNamespace(), owner.GetName(), cur.GetUID(), owner.GetUID())
	}
	if ts := cur.GetDeletionTimestamp(); ts != nil {
		return fmt.Errorf("%s/%s is being deleted since %s; not adopting", owner.GetNamespace(), owner.GetName(), ts.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return nil
}
