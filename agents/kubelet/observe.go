package kubelet

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/kubelet/lifecycle"
	"github.com/berth-io/berth/agents/kubelet/podspec"
)

// observe asks the runtime for the sandboxes and containers of the pod
// with uid.
func (k *Kubelet) observe(ctx context.Context, uid types.UID) (lifecycle.Observed, error) {
	var obs lifecycle.Observed
	sel := map[string]string{podspec.LabelManaged: k.cfg.NodeName, podspec.LabelPodUID: string(uid)}
	sbs, err := k.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		return obs, fmt.Errorf("ListPodSandbox of pod %s: %w", uid, err)
	}
	for _, s := range sbs.Items {
		obs.Sandboxes = append(obs.Sandboxes, lifecycle.Sandbox{
			ID: s.Id, Attempt: s.GetMetadata().GetAttempt(), Ready: s.State == runtimeapi.PodSandboxState_SANDBOX_READY,
			CreatedAt: time.Unix(0, s.CreatedAt),
		})
	}
	if latest := obs.LatestSandbox(); latest != nil && latest.Ready {
		st, err := k.cfg.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: latest.ID})
		if err != nil {
			return obs, fmt.Errorf("PodSandboxStatus %s: %w", latest.ID, err)
		}
		if n := st.GetStatus().GetNetwork(); n != nil {
			if n.Ip != "" {
				latest.IPs = append(latest.IPs, n.Ip)
			}
			for _, ip := range n.AdditionalIps {
				latest.IPs = append(latest.IPs, ip.Ip)
			}
		}
	}
	cs, err := k.cfg.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		return obs, fmt.Errorf("ListContainers of pod %s: %w", uid, err)
	}
	for _, c := range cs.Containers {
		st, err := k.cfg.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.Id})
		if err != nil {
			// Removed in between: the next relist settles it.
			continue
		}
		s := st.Status
		restarts, _ := strconv.Atoi(s.Annotations[podspec.AnnotationRestartCount])
		obs.Containers = append(obs.Containers, lifecycle.Container{
			ID: c.Id, SandboxID: c.PodSandboxId,
			Name: c.Labels[podspec.LabelContainerName], Kind: c.Labels[podspec.LabelContainerKind],
			RestartCount: restarts, State: state(s.State), ExitCode: s.ExitCode, Reason: s.Reason, Message: s.Message,
			CreatedAt: nanos(s.CreatedAt), StartedAt: nanos(s.StartedAt), FinishedAt: nanos(s.FinishedAt),
			Hash: s.Annotations[podspec.AnnotationHash], ImageRef: s.ImageRef,
		})
	}
	return obs, nil
}

func state(s runtimeapi.ContainerState) lifecycle.State {
	switch s {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		return lifecycle.Created
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return lifecycle.Running
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		return lifecycle.Exited
	}
	return lifecycle.Unknown
}

func nanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
