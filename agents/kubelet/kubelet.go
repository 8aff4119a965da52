// Package kubelet runs the pods bound to one node as containers through
// CRI: an informer on the node's pods, one worker goroutine per pod (a
// pod never blocks another), and a relist loop that notices containers
// changing in the runtime. Each worker observes its pod's sandboxes and
// containers, asks lifecycle.Plan what to do, does it, and reports the
// status lifecycle.Status computes.
package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/kubelet/lifecycle"
	"github.com/berth-io/berth/agents/kubelet/logs"
	"github.com/berth-io/berth/agents/kubelet/probe"
)

// Config configures a Kubelet.
type Config struct {
	// NodeName is the node whose pods it runs.
	NodeName string
	// Client talks to the API server as the node.
	Client kubernetes.Interface
	// Runtime and Images are the CRI services.
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient
	// RootDir holds the pods' volumes: <RootDir>/<uid>/volumes.
	RootDir string
	// LogDir holds the container logs (logs.PodDir).
	LogDir string
	// CgroupRoot is the cgroupfs parent of every pod cgroup ("/berth").
	CgroupRoot string
	// RemoveCgroup removes a cgroupfs path and what is below it in every
	// hierarchy (runtime.RemoveCgroup); nil leaves pod cgroups behind.
	RemoveCgroup func(path string) error
	// NodeIPs are the node's addresses (hostIP, hostNetwork pod IPs).
	NodeIPs []string
	// ClusterDNS and ClusterDomain configure dnsPolicy ClusterFirst.
	ClusterDNS    []string
	ClusterDomain string
	// Allocatable is the node's allocatable resources (the downward API's
	// value for limits a container does not set).
	Allocatable corev1.ResourceList
	// Backoff is the crash-loop back-off (default lifecycle.DefaultBackoff).
	Backoff lifecycle.Backoff
	// ProbeSecond is the length of a probe "second" (tests shorten it).
	ProbeSecond time.Duration
	// RelistPeriod is how often the runtime is listed for changes
	// (default 1 s).
	RelistPeriod time.Duration
	// VolumeSyncPeriod is how often running pods' ConfigMap, Secret and
	// downward API volumes are refreshed (default 1 min, as kubelet's
	// sync frequency).
	VolumeSyncPeriod time.Duration
	// Log receives the kubelet's logs (default slog.Default()).
	Log *slog.Logger
	// ParallelPodStarts is how many pods at most create their sandbox at
	// the same time (default twice the CPUs). The runtime's work for a
	// burst of pods is CPU bound: all at once, every pod waits for the
	// whole burst; a few at a time, the first pods run early and the last
	// no later.
	ParallelPodStarts int
	// Recorder records the pods' events (default: events written to the
	// API server as component "kubelet" of this node).
	Recorder record.EventRecorder
}

// Kubelet runs a node's pods. Create it with New and start it with Run.
type Kubelet struct {
	cfg     Config
	log     *slog.Logger
	pods    corelisters.PodLister
	synced  cache.InformerSynced
	factory informers.SharedInformerFactory
	probes  *probe.Manager
	src     apiSource

	// started is when Run began: containers that started earlier were
	// adopted from a previous run of the agent.
	started time.Time
	// reported holds the containers whose readiness probe reported since
	// Run began.
	reported sync.Map

	// starts holds a place per pod creating its sandbox (ParallelPodStarts).
	starts startGate

	mu      sync.Mutex
	workers map[types.UID]*worker
	wg      sync.WaitGroup
	ctx     context.Context
}

// New checks cfg and builds a Kubelet.
func New(cfg Config) (*Kubelet, error) {
	switch {
	case cfg.NodeName == "":
		return nil, errors.New("kubelet: NodeName is empty")
	case cfg.Client == nil || cfg.Runtime == nil || cfg.Images == nil:
		return nil, errors.New("kubelet: Client, Runtime and Images are required")
	case cfg.RootDir == "" || cfg.LogDir == "":
		return nil, errors.New("kubelet: RootDir and LogDir are required")
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/berth"
	}
	if cfg.Backoff.Initial == 0 {
		cfg.Backoff = lifecycle.DefaultBackoff
	}
	if cfg.RelistPeriod == 0 {
		cfg.RelistPeriod = time.Second
	}
	if cfg.VolumeSyncPeriod == 0 {
		cfg.VolumeSyncPeriod = time.Minute
	}
	if cfg.ParallelPodStarts <= 0 {
		cfg.ParallelPodStarts = 2 * goruntime.GOMAXPROCS(0)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	k := &Kubelet{cfg: cfg, log: cfg.Log, workers: map[types.UID]*worker{}, src: apiSource{client: cfg.Client}, starts: make(startGate, cfg.ParallelPodStarts)}
	k.factory = informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
		}),
		informers.WithTransform(stripManagedFields))
	inf := k.factory.Core().V1().Pods()
	k.pods = inf.Lister()
	k.synced = inf.Informer().HasSynced
	_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    k.onPod,
		UpdateFunc: func(_, obj any) { k.onPod(obj) },
		DeleteFunc: k.onPod,
	})
	if err != nil {
		return nil, err
	}
	k.probes = probe.NewManager(probe.Config{Exec: k.execSync, Second: cfg.ProbeSecond, Log: cfg.Log.With("component", "probes")})
	return k, nil
}

// Run runs the pods until ctx ends. Containers keep running when it
// returns: a restarted kubelet adopts them.
func (k *Kubelet) Run(ctx context.Context) error {
	k.mu.Lock()
	k.ctx = ctx
	k.started = time.Now()
	k.mu.Unlock()
	k.factory.Start(ctx.Done())
	if k.cfg.Recorder == nil {
		broadcaster := record.NewBroadcaster(record.WithContext(context.WithoutCancel(ctx)))
		defer broadcaster.Shutdown()
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.cfg.Client.CoreV1().Events("")})
		k.cfg.Recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: k.cfg.NodeName})
	}
	if !cache.WaitForCacheSync(ctx.Done(), k.synced) {
		return ctx.Err()
	}
	k.log.Info("kubelet started", "node", k.cfg.NodeName)
	// Existing pods first, then whatever the runtime holds (adoption of
	// running pods, clean-up of sandboxes whose pod is gone).
	pods, _ := k.pods.List(everything)
	for _, p := range pods {
		k.ensureWorker(p.UID, p.Namespace, p.Name)
	}
	go k.drainProbes(ctx)
	k.relistLoop(ctx)
	k.wg.Wait()
	k.probes.StopAll()
	return nil
}

// Lookup finds a container of a pod this kubelet runs, for the log server.
func (k *Kubelet) Lookup(namespace, name, container string) (logs.Container, error) {
	pod, err := k.pods.Pods(namespace).Get(name)
	if err != nil {
		return logs.Container{}, fmt.Errorf("pod %s/%s: %w", namespace, name, logs.ErrNotFound)
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for _, cs := range list {
			if cs.Name == container {
				return logs.Container{PodUID: pod.UID, RestartCount: int(cs.RestartCount), Running: cs.State.Running != nil}, nil
			}
		}
	}
	return logs.Container{}, fmt.Errorf("container %q in pod %s/%s: %w", container, namespace, name, logs.ErrNotFound)
}

// PodVolumesDir is where the volumes of the pod with uid live.
func (k *Kubelet) PodVolumesDir(uid types.UID) string {
	return filepath.Join(k.cfg.RootDir, string(uid), "volumes")
}

func (k *Kubelet) onPod(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	k.ensureWorker(pod.UID, pod.Namespace, pod.Name)
}

// ensureWorker wakes the worker of a pod, starting it if needed (only
// once Run has begun).
func (k *Kubelet) ensureWorker(uid types.UID, namespace, name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ctx == nil || k.ctx.Err() != nil {
		return
	}
	w, ok := k.workers[uid]
	if !ok {
		w = newWorker(k, uid, namespace, name)
		k.workers[uid] = w
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			w.run(k.ctx)
		}()
	}
	w.poke()
}

func (k *Kubelet) wake(uid types.UID) {
	k.mu.Lock()
	w := k.workers[uid]
	k.mu.Unlock()
	if w != nil {
		w.poke()
	}
}

// workerDone forgets a worker whose pod is gone for good.
func (k *Kubelet) workerDone(w *worker) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.workers[w.uid] == w {
		delete(k.workers, w.uid)
	}
}

func (k *Kubelet) drainProbes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case u := <-k.probes.Updates():
			if u.Kind == probe.Readiness {
				k.reported.Store(u.ContainerID, true)
			}
			k.wake(u.PodUID)
		}
	}
}

func (k *Kubelet) backoff() lifecycle.Backoff { return k.cfg.Backoff }

func stripManagedFields(obj any) (any, error) {
	if a, err := meta.Accessor(obj); err == nil {
		a.SetManagedFields(nil)
	}
	return obj, nil
}
