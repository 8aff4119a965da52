package apiserver

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-io/berth/store/authn"
	"github.com/berth-io/berth/store/registry"
)

// Operation is the kind of write admission is asked about.
type Operation string

// The operations admission sees.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// AdmissionRequest describes one write before it is stored.
type AdmissionRequest struct {
	Operation   Operation
	Kind        *registry.Kind
	Subresource string
	Namespace   string
	Name        string
	// Object is the new state, which admission may change; nil on delete.
	Object runtime.Object
	// Old is the stored state; nil on create.
	Old    runtime.Object
	User   *authn.User
	DryRun bool
}

// Admission checks and completes writes (namespace lifecycle, default
// ServiceAccount, ClusterIP and NodePort allocation, ...). It runs after
// defaulting and before validation.
type Admission interface {
	// Admit may change req.Object or reject the write. The returned
	// finish, if not nil, is called once with whether the write was stored:
	// it keeps or gives back what Admit reserved.
	Admit(ctx context.Context, req *AdmissionRequest) (finish func(stored bool), err error)
	// Released is told about an object that has left storage, so that
	// what it held (addresses, ports) is given back.
	Released(ctx context.Context, kind *registry.Kind, obj runtime.Object)
}
