package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/berth-io/berth/agents/kubelet/lifecycle"
	"github.com/berth-io/berth/agents/kubelet/probe"
	"github.com/berth-io/berth/agents/kubelet/volumes"
)

// worker is the goroutine of one pod: it syncs the pod whenever poked,
// and when a back-off it waits for ends.
type worker struct {
	k               *Kubelet
	uid             types.UID
	namespace, name string
	log             *slog.Logger
	wakeCh          chan struct{}
	// failures are recent start failures by container name.
	failures map[string]lifecycle.Failure
	// probed are the containers whose probes run.
	probed map[string]bool
	// volumesAt is when the pod's volumes were last laid out (for the
	// refresh of its projected tokens); zero after an agent restart.
	volumesAt time.Time
}

// maxRounds bounds how many plan-and-act rounds one sync runs before it
// reports status (each round acts on what the previous one did).
const maxRounds = 4

// errorRetry is how soon a sync that failed runs again; pendingRetry how
// soon one that stopped after maxRounds with work left goes on.
const (
	errorRetry   = time.Second
	pendingRetry = 100 * time.Millisecond
)

func newWorker(k *Kubelet, uid types.UID, namespace, name string) *worker {
	return &worker{
		k: k, uid: uid, namespace: namespace, name: name,
		log:      k.log.With("pod", namespace+"/"+name, "uid", uid),
		wakeCh:   make(chan struct{}, 1),
		failures: map[string]lifecycle.Failure{},
		probed:   map[string]bool{},
	}
}

func (w *worker) poke() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

func (w *worker) run(ctx context.Context) {
	defer w.k.workerDone(w)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wakeCh:
		case <-timer.C:
		}
		after, done, err := w.sync(ctx)
		if done {
			w.stopProbes(nil)
			w.log.Debug("pod worker done")
			return
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("pod sync failed; retrying", "err", err)
			after = errorRetry
		}
		timer.Stop()
		if after > 0 {
			timer.Reset(after)
		}
	}
}

// pod is the pod from the cache, nil when it is gone (or replaced by
// another pod of the same name).
func (w *worker) pod() *corev1.Pod {
	p, err := w.k.pods.Pods(w.namespace).Get(w.name)
	if err != nil || p.UID != w.uid {
		return nil
	}
	return p
}

// sync brings the pod one level closer to its spec and reports its
// status; done means the pod is gone and nothing of it is left.
func (w *worker) sync(ctx context.Context) (after time.Duration, done bool, err error) {
	pod := w.pod()
	gone := pod == nil
	if gone {
		pod = w.orphan()
	}
	var obs lifecycle.Observed
	var plan lifecycle.Result
	var planned time.Time
	for round := 0; ; round++ {
		obs, err = w.k.observe(ctx, w.uid)
		if err != nil {
			return 0, false, err
		}
		if !gone {
			w.k.terminationMessages(ctx, pod, &obs)
		}
		probes := w.probeStatus(pod, obs)
		planned = time.Now()
		plan = lifecycle.Plan(lifecycle.Input{Pod: pod, Observed: obs, Probes: probes, Failures: w.failures, Backoff: w.k.backoff(), Now: planned})
		if len(plan.Actions) == 0 || round == maxRounds {
			break
		}
		if !gone && finishes(plan) {
			// As kubelet since 1.27: report the pod's end (a terminal
			// phase, for controllers that count it) before deleting it.
			st := lifecycle.Status(lifecycle.StatusInput{Pod: pod, Observed: obs, Probes: probes, Waiting: plan.Waiting, HostIPs: w.k.cfg.NodeIPs, Now: time.Now()})
			if err := w.writeStatus(ctx, pod, st); err != nil {
				return 0, false, err
			}
		}
		finished, err := w.act(ctx, pod, gone, plan.Actions)
		if err != nil {
			return 0, false, err
		}
		if finished {
			return 0, true, nil
		}
	}
	if gone {
		if len(obs.Sandboxes) == 0 && len(obs.Containers) == 0 {
			w.k.cleanupPod(pod)
			return 0, true, nil
		}
		return errorRetry, false, nil
	}
	if len(plan.Actions) > 0 && plan.RequeueAfter == 0 {
		// maxRounds ended the sync with work left: go on soon.
		plan.RequeueAfter = pendingRetry
	}
	if refresh := w.refreshVolumes(ctx, pod, obs); refresh > 0 && (plan.RequeueAfter == 0 || refresh < plan.RequeueAfter) {
		plan.RequeueAfter = refresh
	}
	st := lifecycle.Status(lifecycle.StatusInput{Pod: pod, Observed: obs, Probes: w.probeStatus(pod, obs), Waiting: plan.Waiting, HostIPs: w.k.cfg.NodeIPs, Now: time.Now()})
	if err := w.writeStatus(ctx, pod, st); err != nil {
		return 0, false, err
	}
	if plan.RequeueAfter == 0 {
		return 0, false, nil
	}
	// The wait counts from when the plan was made, not from after the
	// status write (slow when the API server is busy).
	return max(time.Until(planned.Add(plan.RequeueAfter)), time.Millisecond), false, nil
}

// refreshVolumes lays the pod's volumes out again when due (every
// VolumeSyncPeriod for ConfigMap, Secret and downward API content, at 80%
// of a projected token's life; at once for a pod adopted after an agent
// restart) and says when they are due next; 0 for pods with nothing to
// refresh or without a running sandbox.
func (w *worker) refreshVolumes(ctx context.Context, pod *corev1.Pod, obs lifecycle.Observed) time.Duration {
	every := volumes.RefreshInterval(pod, w.k.cfg.VolumeSyncPeriod)
	sb := obs.LatestSandbox()
	if every == 0 || pod.DeletionTimestamp != nil || sb == nil || !sb.Ready {
		return 0
	}
	if due := w.volumesAt.Add(every); time.Now().Before(due) {
		return time.Until(due)
	}
	if _, err := volumes.Setup(ctx, w.k.PodVolumesDir(pod.UID), w.k.downward(ctx, pod, sb.ID), w.k.src.with(ctx)); err != nil {
		w.log.Warn("refreshing the pod's volumes failed; retrying", "err", err)
		return errorRetry
	}
	w.volumesAt = time.Now()
	return every
}

// orphan stands in for a pod that is gone from the API server: deleted,
// with no grace left, so that everything of it is stopped and removed.
func (w *worker) orphan() *corev1.Pod {
	now := metav1.Now()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: w.name, Namespace: w.namespace, UID: w.uid, DeletionTimestamp: &now, DeletionGracePeriodSeconds: new(int64(0))},
	}
}

// probeStatus starts the probes of running containers, stops those of
// containers that are no longer running, and returns their status.
func (w *worker) probeStatus(pod *corev1.Pod, obs lifecycle.Observed) map[string]probe.Status {
	out := map[string]probe.Status{}
	running := map[string]bool{}
	sb := obs.LatestSandbox()
	podIP := ""
	if sb != nil && len(sb.IPs) > 0 {
		podIP = sb.IPs[0]
	}
	if pod.Spec.HostNetwork && len(w.k.cfg.NodeIPs) > 0 {
		podIP = w.k.cfg.NodeIPs[0]
	}
	for _, c := range obs.Containers {
		if c.State != lifecycle.Running || pod.DeletionTimestamp != nil {
			continue
		}
		spec := containerSpec(pod, c.Name, c.Kind)
		if spec == nil {
			continue
		}
		running[c.ID] = true
		if !w.probed[c.ID] {
			w.k.probes.Start(probe.Target{PodUID: pod.UID, Namespace: pod.Namespace, Pod: pod.Name, Container: *spec, ContainerID: c.ID, PodIP: podIP, StartedAt: c.StartedAt})
			w.probed[c.ID] = true
		}
		if st, ok := w.k.probes.Status(c.ID); ok {
			out[c.ID] = w.adopted(pod, c, spec, st)
		}
	}
	w.stopProbes(running)
	return out
}

// adopted keeps the readiness the pod reported for a container that ran
// before this agent started, until its readiness probe reports again: an
// agent restart must not take ready pods out of their Services.
func (w *worker) adopted(pod *corev1.Pod, c lifecycle.Container, spec *corev1.Container, st probe.Status) probe.Status {
	if spec.ReadinessProbe == nil || !c.StartedAt.Before(w.k.started) {
		return st
	}
	if _, ok := w.k.reported.Load(c.ID); ok {
		return st
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.ContainerID == lifecycle.ContainerIDPrefix+c.ID && cs.Ready {
			st.Ready = true
		}
	}
	return st
}

// stopProbes stops probing containers not in keep.
func (w *worker) stopProbes(keep map[string]bool) {
	for id := range w.probed {
		if !keep[id] {
			w.k.probes.Stop(id)
			w.k.reported.Delete(id)
			delete(w.probed, id)
		}
	}
}

// writeStatus patches the pod's status when it changed.
func (w *worker) writeStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) error {
	if equality.Semantic.DeepEqual(pod.Status, st) {
		return nil
	}
	patch, err := statusPatch(pod, st)
	if err != nil {
		return err
	}
	_, err = w.k.cfg.Client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone, or replaced: the informer brings the news.
		return nil
	}
	if err != nil {
		return fmt.Errorf("patching status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// statusPatch is a strategic merge patch from pod's status to st, with
// the pod's UID as a precondition (as kubelet's status manager sends).
func statusPatch(pod *corev1.Pod, st corev1.PodStatus) ([]byte, error) {
	oldJSON, err := json.Marshal(corev1.Pod{Status: pod.Status})
	if err != nil {
		return nil, err
	}
	newJSON, err := json.Marshal(corev1.Pod{Status: st})
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("status patch of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(patch, &m); err != nil {
		return nil, err
	}
	m["metadata"] = map[string]any{"uid": string(pod.UID)}
	return json.Marshal(m)
}

// finishes says whether the plan ends with the pod's deletion.
func finishes(plan lifecycle.Result) bool {
	n := len(plan.Actions)
	return n > 0 && plan.Actions[n-1].Kind == lifecycle.FinishDeletion
}

// containerSpec finds the spec of a container by name and kind.
func containerSpec(pod *corev1.Pod, name, kind string) *corev1.Container {
	list := pod.Spec.Containers
	if kind == "init" {
		list = pod.Spec.InitContainers
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}
