package kubelet

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/kubelet/podspec"
)

var everything = labels.Everything()

// relistLoop lists the runtime's sandboxes and containers of this node
// every RelistPeriod and wakes the worker of each pod whose runtime state
// changed (a container exited), starting workers for pods the runtime has
// but the kubelet does not know yet (after a restart: adopt or clean up).
// CRI of containerd 1.6 has no event stream, so this is kubelet's PLEG.
func (k *Kubelet) relistLoop(ctx context.Context) {
	last := map[types.UID]uint64{}
	t := time.NewTicker(k.cfg.RelistPeriod)
	defer t.Stop()
	for {
		now, names, err := k.relist(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			k.log.Warn("listing the runtime's pods failed; retrying", "err", err)
		} else {
			for uid, sum := range now {
				if last[uid] != sum {
					n := names[uid]
					k.ensureWorker(uid, n[0], n[1])
				}
			}
			last = now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// relist fingerprints the runtime state of every pod of this node.
func (k *Kubelet) relist(ctx context.Context) (map[types.UID]uint64, map[types.UID][2]string, error) {
	sel := map[string]string{podspec.LabelManaged: k.cfg.NodeName}
	sbs, err := k.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		return nil, nil, fmt.Errorf("ListPodSandbox: %w", err)
	}
	cs, err := k.cfg.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		return nil, nil, fmt.Errorf("ListContainers: %w", err)
	}
	hashes := map[types.UID]uint64{}
	names := map[types.UID][2]string{}
	add := func(l map[string]string, parts ...string) {
		uid := types.UID(l[podspec.LabelPodUID])
		if uid == "" {
			return
		}
		names[uid] = [2]string{l[podspec.LabelPodNamespace], l[podspec.LabelPodName]}
		h := fnv.New64a()
		for _, p := range parts {
			_, _ = h.Write([]byte(p))
		}
		hashes[uid] ^= h.Sum64()
	}
	for _, s := range sbs.Items {
		add(s.Labels, s.Id, s.State.String())
	}
	for _, c := range cs.Containers {
		add(c.Labels, c.Id, c.State.String())
	}
	return hashes, names, nil
}
