package admission

import (
	"context"
	"errors"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berth-io/berth/store/allocator"
)

// allocateService gives a Service its ClusterIP and NodePorts, keeping
// those it already has on update and releasing those it no longer needs
// once the write is stored.
func (c *Chain) allocateService(ctx context.Context, svc, old *corev1.Service) (func(bool), error) {
	tx := &allocator.Transaction{}
	finish := func(stored bool) {
		var err error
		if stored {
			err = tx.Commit(context.WithoutCancel(ctx))
		} else {
			err = tx.Revert(context.WithoutCancel(ctx))
		}
		if err != nil {
			c.log.Warn("settling Service allocations failed; repair will fix them", "service", svc.Namespace+"/"+svc.Name, "err", err)
		}
	}
	owner := svc.Namespace + "/" + svc.Name
	if err := c.allocateClusterIP(ctx, tx, svc, old, owner); err != nil {
		finish(false)
		return nil, err
	}
	if err := c.allocateNodePorts(ctx, tx, svc, old, owner); err != nil {
		finish(false)
		return nil, err
	}
	return finish, nil
}

func needsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

func (c *Chain) allocateClusterIP(ctx context.Context, tx *allocator.Transaction, svc, old *corev1.Service, owner string) error {
	if c.ips == nil {
		return nil
	}
	had := old != nil && needsClusterIP(old) && old.Spec.ClusterIP != ""
	if !needsClusterIP(svc) {
		if had {
			_ = c.ips.In(tx).Release(ctx, net.ParseIP(old.Spec.ClusterIP))
		}
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
		return nil
	}
	if had && (svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == old.Spec.ClusterIP) {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = old.Spec.ClusterIP, []string{old.Spec.ClusterIP}
		return nil
	}
	path := field.NewPath("spec", "clusterIPs") // kube-apiserver names the list, not an item
	if svc.Spec.ClusterIP == "" {
		ip, err := c.ips.In(tx).AllocateNext(ctx, owner)
		if err != nil {
			return invalid(svc, path, "", "failed to allocate IP: "+err.Error())
		}
		svc.Spec.ClusterIP = ip.String()
	} else {
		ip := net.ParseIP(svc.Spec.ClusterIP)
		if ip == nil {
			return nil // validation reports it
		}
		if err := c.ips.In(tx).Allocate(ctx, ip, owner); err != nil {
			return invalid(svc, path, svc.Spec.ClusterIP, "failed to allocate IP "+svc.Spec.ClusterIP+": "+allocationReason(err))
		}
	}
	svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	if had {
		_ = c.ips.In(tx).Release(ctx, net.ParseIP(old.Spec.ClusterIP))
	}
	return nil
}

func needsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

func (c *Chain) allocateNodePorts(ctx context.Context, tx *allocator.Transaction, svc, old *corev1.Service, owner string) error {
	if c.ports == nil {
		return nil
	}
	held := map[int32]bool{}
	if old != nil && needsNodePorts(old) {
		for _, p := range old.Spec.Ports {
			if p.NodePort != 0 {
				held[p.NodePort] = true
			}
		}
	}
	kept := map[int32]bool{}
	if needsNodePorts(svc) {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
			switch {
			case p.NodePort != 0 && held[p.NodePort]:
			case p.NodePort != 0:
				if err := c.ports.In(tx).Allocate(ctx, int(p.NodePort), owner); err != nil {
					return invalid(svc, path, p.NodePort, allocationReason(err))
				}
			default:
				n, err := c.ports.In(tx).AllocateNext(ctx, owner)
				if err != nil {
					return invalid(svc, path, 0, "failed to allocate a nodePort: "+err.Error())
				}
				p.NodePort = int32(n)
			}
			kept[p.NodePort] = true
		}
	} else {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	for port := range held {
		if !kept[port] {
			_ = c.ports.In(tx).Release(ctx, int(port))
		}
	}
	return nil
}

// releaseService adds everything svc holds to tx's releases.
func (c *Chain) releaseService(ctx context.Context, tx *allocator.Transaction, svc *corev1.Service) {
	if c.ips != nil && needsClusterIP(svc) && svc.Spec.ClusterIP != "" {
		_ = c.ips.In(tx).Release(ctx, net.ParseIP(svc.Spec.ClusterIP))
	}
	if c.ports != nil && needsNodePorts(svc) {
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				_ = c.ports.In(tx).Release(ctx, int(p.NodePort))
			}
		}
	}
}

// allocationReason words an allocator refusal as kube-apiserver does.
func allocationReason(err error) string {
	switch {
	case errors.Is(err, allocator.ErrAllocated):
		return "provided " + kindOf(err) + " is already allocated"
	case errors.Is(err, allocator.ErrNotInRange):
		return err.Error()
	}
	return err.Error()
}

func kindOf(err error) string {
	var e *allocator.Error
	if errors.As(err, &e) && e.Kind == "IP" {
		return "IP"
	}
	return "port"
}

func invalid(svc *corev1.Service, path *field.Path, value any, detail string) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{field.Invalid(path, value, detail)})
}
