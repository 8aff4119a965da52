package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/kubelet/envvars"
	"github.com/berth-io/berth/agents/kubelet/lifecycle"
	"github.com/berth-io/berth/agents/kubelet/logs"
	"github.com/berth-io/berth/agents/kubelet/podspec"
	"github.com/berth-io/berth/agents/kubelet/probe"
	"github.com/berth-io/berth/agents/kubelet/volumes"
)

// minGracePeriod is the least time a container gets to stop, as kubelet's.
const minGracePeriod = 2 * time.Second

// act carries out a plan's actions in order; kills run in parallel. It
// reports finished once the pod's deletion is complete.
func (w *worker) act(ctx context.Context, pod *corev1.Pod, gone bool, actions []lifecycle.Action) (bool, error) {
	w.log.Debug("acting", "actions", fmt.Sprint(actions))
	var kills []lifecycle.Action
	newSandbox := ""
	var errs []error
	for _, a := range actions {
		switch a.Kind {
		case lifecycle.KillContainer:
			kills = append(kills, a)
			continue
		case lifecycle.CreateSandbox:
			id, err := w.k.createSandbox(ctx, pod, a.Attempt)
			if err != nil {
				if ctx.Err() == nil {
					f := w.failures[lifecycle.SandboxFailure]
					w.failures[lifecycle.SandboxFailure] = lifecycle.Failure{Reason: "FailedCreatePodSandBox", Message: err.Error(), At: time.Now(), Count: f.Count + 1}
					w.log.Warn("pod sandbox failed to start", "err", err)
					w.event(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
				}
				return false, errors.Join(errs...)
			}
			delete(w.failures, lifecycle.SandboxFailure)
			newSandbox = id
		case lifecycle.StartContainer:
			w.startContainer(ctx, pod, a, newSandbox)
		case lifecycle.RemoveContainer:
			if _, err := w.k.cfg.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: a.ContainerID}); err != nil {
				errs = append(errs, fmt.Errorf("RemoveContainer %s: %w", a.ContainerID, err))
			} else if a.Reason == lifecycle.ReasonOldRun {
				// The runtime leaves the log behind, as kubelet's
				// container GC knows: a crash loop would pile up files.
				_ = os.Remove(filepath.Join(logs.PodDir(w.k.cfg.LogDir, pod.Namespace, pod.Name, pod.UID), logs.ContainerFile(a.Name, a.RestartCount)))
				_ = os.Remove(w.k.terminationFile(pod, a.Name, a.RestartCount))
			}
		case lifecycle.StopSandbox:
			if err := w.k.stopSandbox(ctx, a.SandboxID); err != nil {
				errs = append(errs, err)
			}
		case lifecycle.RemoveSandbox:
			if _, err := w.k.cfg.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: a.SandboxID}); err != nil {
				errs = append(errs, fmt.Errorf("RemovePodSandbox %s: %w", a.SandboxID, err))
			}
		case lifecycle.FinishDeletion:
			if len(errs) > 0 {
				return false, errors.Join(errs...)
			}
			w.k.cleanupPod(pod)
			if gone {
				return true, nil
			}
			err := w.k.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
				GracePeriodSeconds: new(int64(0)), Preconditions: &metav1.Preconditions{UID: &pod.UID}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return false, fmt.Errorf("finishing deletion of pod %s/%s: %w", pod.Namespace, pod.Name, err)
			}
			w.log.Info("pod deleted")
			return true, nil
		}
	}
	if len(kills) > 0 {
		for _, a := range kills {
			w.k.probes.Stop(a.ContainerID)
			w.k.reported.Delete(a.ContainerID)
			delete(w.probed, a.ContainerID)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, a := range kills {
			wg.Go(func() {
				if err := w.killContainer(ctx, pod, a); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	return false, errors.Join(errs...)
}

// startGate lets a bounded number of pods start at once.
type startGate chan struct{}

// enter waits for a place (or ctx's end) and returns how to give it back.
func (g startGate) enter(ctx context.Context) (func(), error) {
	select {
	case g <- struct{}{}:
		return func() { <-g }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// createSandbox runs a new sandbox for pod and returns its ID.
func (k *Kubelet) createSandbox(ctx context.Context, pod *corev1.Pod, attempt uint32) (string, error) {
	cfg := k.sandboxConfig(pod, attempt)
	if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
		return "", fmt.Errorf("pod %s/%s: log directory: %w", pod.Namespace, pod.Name, err)
	}
	release, err := k.starts.enter(ctx)
	if err != nil {
		return "", err
	}
	start := time.Now()
	resp, err := k.cfg.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	release()
	if err != nil {
		return "", fmt.Errorf("RunPodSandbox for pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	k.log.Debug("sandbox running", "pod", pod.Namespace+"/"+pod.Name, "sandbox", resp.PodSandboxId, "took", time.Since(start))
	return resp.PodSandboxId, nil
}

func (k *Kubelet) sandboxConfig(pod *corev1.Pod, attempt uint32) *runtimeapi.PodSandboxConfig {
	return podspec.SandboxConfig(pod, podspec.SandboxOptions{
		Node: k.cfg.NodeName, Attempt: attempt,
		LogDirectory: logs.PodDir(k.cfg.LogDir, pod.Namespace, pod.Name, pod.UID),
		CgroupParent: k.podCgroup(pod),
		ClusterDNS:   k.cfg.ClusterDNS, ClusterDomain: k.cfg.ClusterDomain,
	})
}

func (k *Kubelet) podCgroup(pod *corev1.Pod) string {
	return filepath.Join(k.cfg.CgroupRoot, "pod"+string(pod.UID))
}

// stopSandbox stops a sandbox; a sandbox whose network teardown fails is
// retried by the next sync (the plan asks again while it is ready).
func (k *Kubelet) stopSandbox(ctx context.Context, id string) error {
	if _, err := k.cfg.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		return fmt.Errorf("StopPodSandbox %s: %w", id, err)
	}
	return nil
}

// startContainer pulls the image, lays out volumes, creates and starts a
// container; a failure is remembered for the status and the back-off.
func (w *worker) startContainer(ctx context.Context, pod *corev1.Pod, a lifecycle.Action, sandboxID string) {
	reason, err := w.k.start(ctx, pod, a, sandboxID)
	if err == nil {
		delete(w.failures, a.Name)
		w.volumesAt = time.Now()
		w.event(pod, corev1.EventTypeNormal, "Started", "Started container %s", a.Name)
		return
	}
	if ctx.Err() != nil {
		return
	}
	w.event(pod, corev1.EventTypeWarning, "Failed", "Error: %s: %v", reason, err)
	f := w.failures[a.Name]
	w.failures[a.Name] = lifecycle.Failure{Reason: reason, Message: err.Error(), At: time.Now(), Count: f.Count + 1}
	w.log.Info("container failed to start", "container", a.Name, "reason", reason, "err", err)
}

func (k *Kubelet) start(ctx context.Context, pod *corev1.Pod, a lifecycle.Action, sandboxID string) (string, error) {
	c := containerSpec(pod, a.Name, a.ContainerKind)
	if c == nil {
		return "CreateContainerConfigError", fmt.Errorf("no container %q in the pod spec", a.Name)
	}
	sbCfg := k.sandboxConfig(pod, 0)
	if sandboxID == "" {
		obs, err := k.observe(ctx, pod.UID)
		if err != nil {
			return "CreateContainerError", err
		}
		sb := obs.LatestSandbox()
		if sb == nil || !sb.Ready {
			return "CreateContainerError", errors.New("the pod's sandbox is not ready")
		}
		sandboxID = sb.ID
		sbCfg.Metadata.Attempt = sb.Attempt
	}
	imageRef, reason, err := k.ensureImage(ctx, c)
	if err != nil {
		return reason, err
	}
	info := k.downward(ctx, pod, sandboxID)
	src := k.src.with(ctx)
	links, err := k.serviceLinks(ctx, pod)
	if err != nil {
		return "CreateContainerConfigError", err
	}
	env, err := envvars.Resolve(info, c, src, links)
	if err != nil {
		return "CreateContainerConfigError", err
	}
	paths, err := volumes.Setup(ctx, k.PodVolumesDir(pod.UID), info, src)
	if err != nil {
		return "CreateContainerConfigError", err
	}
	mounts, err := volumes.Mounts(c, paths)
	if err != nil {
		return "CreateContainerConfigError", err
	}
	if podspec.ManagesHosts(pod, c) {
		hosts := filepath.Join(k.cfg.RootDir, string(pod.UID), "etc-hosts")
		if err := writeFileAtomic(hosts, podspec.HostsFile(pod, info.PodIPs, k.cfg.ClusterDomain)); err != nil {
			return "CreateContainerError", fmt.Errorf("hosts file of pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: hosts})
	}
	if c.TerminationMessagePath != "" {
		msgFile, err := k.prepareTerminationFile(pod, c.Name, a.RestartCount)
		if err != nil {
			return "CreateContainerError", fmt.Errorf("termination message file of %s: %w", c.Name, err)
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: c.TerminationMessagePath, HostPath: msgFile})
	}
	logPath := logs.ContainerFile(c.Name, a.RestartCount)
	if err := os.MkdirAll(filepath.Join(sbCfg.LogDirectory, filepath.Dir(logPath)), 0o755); err != nil {
		return "CreateContainerError", err
	}
	cfg := podspec.ContainerConfig(pod, c, podspec.ContainerOptions{
		Node: k.cfg.NodeName, Kind: a.ContainerKind, RestartCount: a.RestartCount, Image: imageRef,
		Env: env, Mounts: mounts, LogPath: logPath,
	})
	start := time.Now()
	created, err := k.cfg.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sandboxID, Config: cfg, SandboxConfig: sbCfg})
	if err != nil {
		return "CreateContainerError", fmt.Errorf("CreateContainer %s: %w", c.Name, err)
	}
	if _, err := k.cfg.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		_, _ = k.cfg.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: created.ContainerId})
		return "RunContainerError", fmt.Errorf("StartContainer %s: %w", c.Name, err)
	}
	k.log.Debug("container started", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "took", time.Since(start))
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		if err := k.runHook(ctx, c, c.Lifecycle.PostStart, created.ContainerId, firstOr(info.PodIPs), 30*time.Second); err != nil {
			_, _ = k.cfg.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: created.ContainerId, Timeout: 2})
			return "PostStartHookError", fmt.Errorf("postStart hook of %s: %w", c.Name, err)
		}
	}
	return "", nil
}

// serviceLinks are the service environment variables of pod's containers
// (none with enableServiceLinks false, except the API server's own).
func (k *Kubelet) serviceLinks(ctx context.Context, pod *corev1.Pod) ([]envvars.Var, error) {
	var services []*corev1.Service
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		list, err := k.cfg.Client.CoreV1().Services(pod.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("services of namespace %s for the environment: %w", pod.Namespace, err)
		}
		for i := range list.Items {
			services = append(services, &list.Items[i])
		}
	}
	if pod.Namespace != metav1.NamespaceDefault || !(pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks) {
		master, err := k.cfg.Client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
		switch {
		case err == nil:
			services = append(services, master)
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("service default/kubernetes for the environment: %w", err)
		}
	}
	return envvars.ServiceLinks(services), nil
}

// downward is the pod with what only the node knows (IPs, allocatable).
func (k *Kubelet) downward(ctx context.Context, pod *corev1.Pod, sandboxID string) envvars.Pod {
	p := envvars.Pod{Pod: pod, HostIPs: k.cfg.NodeIPs, Allocatable: k.cfg.Allocatable}
	if pod.Spec.HostNetwork {
		p.PodIPs = k.cfg.NodeIPs
		return p
	}
	st, err := k.cfg.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sandboxID})
	if err == nil && st.GetStatus().GetNetwork() != nil {
		n := st.Status.Network
		if n.Ip != "" {
			p.PodIPs = append(p.PodIPs, n.Ip)
		}
		for _, ip := range n.AdditionalIps {
			p.PodIPs = append(p.PodIPs, ip.Ip)
		}
	}
	return p
}

// ensureImage makes the container's image present as its
// imagePullPolicy says and returns the image's ID.
func (k *Kubelet) ensureImage(ctx context.Context, c *corev1.Container) (ref, reason string, err error) {
	spec := &runtimeapi.ImageSpec{Image: c.Image}
	st, err := k.cfg.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec})
	if err != nil {
		return "", "ErrImagePull", fmt.Errorf("ImageStatus %s: %w", c.Image, err)
	}
	present := st.GetImage() != nil
	switch c.ImagePullPolicy {
	case corev1.PullNever:
		if !present {
			return "", "ErrImageNeverPull", fmt.Errorf("container image %q is not present with pull policy of Never", c.Image)
		}
		return st.Image.Id, "", nil
	case corev1.PullIfNotPresent:
		if present {
			return st.Image.Id, "", nil
		}
	}
	resp, err := k.cfg.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec})
	if err != nil {
		return "", "ErrImagePull", fmt.Errorf("failed to pull image %q: %w", c.Image, err)
	}
	return resp.ImageRef, "", nil
}

// killContainer runs the preStop hook and stops the container, within
// the pod's grace period.
func (w *worker) killContainer(ctx context.Context, pod *corev1.Pod, a lifecycle.Action) error {
	grace := gracePeriod(pod)
	start := time.Now()
	c := containerSpec(pod, a.Name, a.ContainerKind)
	if c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 {
		podIP := ""
		if st, err := w.k.cfg.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: a.SandboxID}); err == nil {
			podIP = st.GetStatus().GetNetwork().GetIp()
		}
		if pod.Spec.HostNetwork {
			podIP = firstOr(w.k.cfg.NodeIPs)
		}
		if err := w.k.runHook(ctx, c, c.Lifecycle.PreStop, a.ContainerID, podIP, grace); err != nil {
			w.log.Info("preStop hook failed", "container", a.Name, "err", err)
		}
	}
	left := max(grace-time.Since(start), minGracePeriod)
	w.log.Info("stopping container", "container", a.Name, "reason", a.Reason, "grace", left)
	w.event(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s: %s", a.Name, a.Reason)
	sctx, cancel := context.WithTimeout(ctx, left+30*time.Second)
	defer cancel()
	_, err := w.k.cfg.Runtime.StopContainer(sctx, &runtimeapi.StopContainerRequest{ContainerId: a.ContainerID, Timeout: int64((left + time.Second - 1) / time.Second)})
	if err != nil {
		return fmt.Errorf("StopContainer %s (%s): %w", a.Name, a.ContainerID, err)
	}
	return nil
}

// gracePeriod is how long the pod's containers get to stop.
func gracePeriod(pod *corev1.Pod) time.Duration {
	if pod.DeletionGracePeriodSeconds != nil {
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// runHook runs a postStart or preStop handler (exec or httpGet).
func (k *Kubelet) runHook(ctx context.Context, c *corev1.Container, h *corev1.LifecycleHandler, containerID, podIP string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		code, out, err := k.execSync(ctx, containerID, h.Exec.Command, timeout)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", h.Exec.Command, code, out)
		}
	case h.HTTPGet != nil:
		u, err := probe.URL(h.HTTPGet, c, podIP)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode >= 400 {
			return fmt.Errorf("GET %s: %s", u, resp.Status)
		}
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
	}
	return nil
}

// execSync runs cmd in a container through CRI (probes and hooks).
func (k *Kubelet) execSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (int, []byte, error) {
	resp, err := k.cfg.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: containerID, Cmd: cmd, Timeout: int64(max(timeout/time.Second, 1))})
	if err != nil {
		return -1, nil, err
	}
	return int(resp.ExitCode), append(resp.Stdout, resp.Stderr...), nil
}

// cleanupPod removes what a pod left on the node: its cgroup, volumes
// and log directory.
func (k *Kubelet) cleanupPod(pod *corev1.Pod) {
	if k.cfg.RemoveCgroup != nil {
		if err := k.cfg.RemoveCgroup(k.podCgroup(pod)); err != nil {
			k.log.Warn("removing pod cgroup failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
	}
	if err := volumes.Unmount(k.PodVolumesDir(pod.UID)); err != nil {
		k.log.Warn("unmounting pod volumes failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	if err := os.RemoveAll(filepath.Join(k.cfg.RootDir, string(pod.UID))); err != nil {
		k.log.Warn("removing pod volumes failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	_ = os.RemoveAll(logs.PodDir(k.cfg.LogDir, pod.Namespace, pod.Name, pod.UID))
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it over path, so that readers see the old or the new content.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// event records an event on the pod (not on pods already gone).
func (w *worker) event(pod *corev1.Pod, eventType, reason, format string, args ...any) {
	if w.k.cfg.Recorder == nil || w.pod() == nil {
		return
	}
	w.k.cfg.Recorder.Eventf(pod, eventType, reason, format, args...)
}
