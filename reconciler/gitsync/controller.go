package gitsync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/gitsync/fetch"
	"github.com/berth-io/berth/reconciler/gitsync/health"
	"github.com/berth-io/berth/reconciler/leader"
)

// Options configure the controller.
type Options struct {
	// DataDir holds the bare caches of remote repositories; empty means a
	// temporary directory.
	DataDir string
	// Workers is how many sources sync at once (default 2).
	Workers int
	// ApplyWorkers is how many objects of one apply step are applied at
	// once (default 32).
	ApplyWorkers int
	// HealthRecheck is how often a source whose objects are progressing is
	// re-evaluated when none of them changes (default 1s; any change of an
	// applied object re-evaluates its source at once).
	HealthRecheck time.Duration
	// FetchTimeout bounds one fetch (default 2m).
	FetchTimeout time.Duration
	// LeaderElect: act only while holding the Lease kube-system/berth-gitsync.
	LeaderElect bool
	Leader      leader.Options
	Identity    string
	// Hooks are told about syncs (drift detection, live branch, commit
	// statuses, policies); any may be nil.
	Hooks Hooks
	Log   *slog.Logger
}

// Hooks let other packages act on what a sync did, without the engine
// knowing them.
type Hooks struct {
	// Validated is called with every commit that rendered and validated,
	// before it is applied, with the report's objects and files (for
	// example to publish its policies). An error stops the sync and is
	// reported in status.
	Validated func(ctx context.Context, src *berthv1alpha1.GitSource, commit Commit) error
	// Synced is called after every sync attempt with the status written.
	Synced func(ctx context.Context, src *berthv1alpha1.GitSource, result Result)
	// Observe is called on each health pass with the applied objects and
	// their live state (nil when missing); it may add drift entries to
	// the status, which the engine writes. Return nil for no drift.
	Observe func(ctx context.Context, src *berthv1alpha1.GitSource, applied []Applied) []berthv1alpha1.DriftEntry
}

// liveDebounce gathers the changes of many applied objects into one
// re-evaluation of their source.
const liveDebounce = 50 * time.Millisecond

// Controller syncs GitSources.
type Controller struct {
	opts     Options
	log      *slog.Logger
	config   *rest.Config
	client   kubernetes.Interface
	dynamic  dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	fetcher  *fetch.Fetcher
	scheme   *runtime.Scheme
	queue    workqueue.TypedRateLimitingInterface[string]
	informer cache.SharedIndexInformer
	recorder record.EventRecorder

	live *liveCache

	mu           sync.Mutex
	sources      map[string]*sourceState
	impersonated map[string]dynamic.Interface
	running      atomic.Bool
}

// New builds a controller for the API server of cfg.
func New(cfg *rest.Config, opts Options) (*Controller, error) {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.ApplyWorkers <= 0 {
		opts.ApplyWorkers = 32
	}
	if opts.HealthRecheck <= 0 {
		opts.HealthRecheck = time.Second
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 2 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(os.TempDir(), fmt.Sprintf("berth-gitsync-%d", time.Now().UnixNano()))
	}
	cfg = rest.CopyConfig(cfg)
	jsonCfg := rest.CopyConfig(cfg)
	jsonCfg.ContentType = "application/json"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("gitsync: %w", err)
	}
	dyn, err := dynamic.NewForConfig(jsonCfg)
	if err != nil {
		return nil, fmt.Errorf("gitsync: %w", err)
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = berthv1alpha1.AddToScheme(scheme)
	c := &Controller{
		opts:         opts,
		log:          opts.Log,
		config:       jsonCfg,
		client:       client,
		dynamic:      dyn,
		mapper:       restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery())),
		fetcher:      fetch.New(filepath.Join(opts.DataDir, "git")),
		scheme:       scheme,
		sources:      map[string]*sourceState{},
		impersonated: map[string]dynamic.Interface{},
	}
	return c, nil
}

// Trigger asks for a sync of the GitSource namespace/name now (a push
// webhook arrived): its remote is fetched even if its interval has not
// passed. It never blocks; before Run leads, it is a no-op.
func (c *Controller) Trigger(namespace, name string) {
	key := namespace + "/" + name
	c.state(key).triggered.Store(true)
	if c.running.Load() {
		c.queue.Add(key)
	}
}

// Run syncs until ctx is done; with LeaderElect only while leading.
func (c *Controller) Run(ctx context.Context) error {
	broadcaster := record.NewBroadcaster(record.WithContext(context.WithoutCancel(ctx)))
	defer broadcaster.Shutdown()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	c.recorder = broadcaster.NewRecorder(c.scheme, corev1.EventSource{Component: Component})
	if !c.opts.LeaderElect {
		c.runTerm(ctx)
		return nil
	}
	opts := c.opts.Leader
	opts.Recorder = c.recorder
	opts.Log = c.log
	return leader.Run(ctx, c.client, LeaseNamespace, LeaseName, c.opts.Identity, opts, c.runTerm)
}

// runTerm runs the informer, the queue and the workers for one term. It
// starts from what the API server holds: another instance may have synced
// in between terms.
func (c *Controller) runTerm(ctx context.Context) {
	c.stopWatches()
	c.mu.Lock()
	c.sources = map[string]*sourceState{}
	c.mu.Unlock()
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 5*time.Minute),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "gitsources"})
	defer c.queue.ShutDown()
	factory := dynamicinformer.NewDynamicSharedInformerFactory(c.dynamic, 0)
	c.informer = factory.ForResource(berthv1alpha1.GitSourcesResource).Informer()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	_, _ = c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(old, cur any) { enqueue(cur) },
		DeleteFunc: enqueue,
	})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced) {
		return
	}
	c.live = newLiveCache(ctx, c.dynamic, func(key string) { c.queue.AddAfter(key, liveDebounce) })
	c.running.Store(true)
	defer c.running.Store(false)
	defer c.stopWatches()
	c.log.Info("gitsync started", "workers", c.opts.Workers)
	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *Controller) next(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	defer utilruntime.HandleCrashWithContext(ctx)
	after, err := c.sync(ctx, key)
	switch {
	case err != nil:
		c.log.Info("sync failed, retrying", "source", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		c.queue.Forget(key)
		if after > 0 {
			c.queue.AddAfter(key, after)
		}
	}
	return true
}

// get returns the GitSource key from the informer's cache (nil if gone).
func (c *Controller) get(key string) (*berthv1alpha1.GitSource, error) {
	obj, exists, err := c.informer.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return nil, err
	}
	var gs berthv1alpha1.GitSource
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.(*unstructured.Unstructured).Object, &gs); err != nil {
		return nil, fmt.Errorf("reading GitSource %s: %w", key, err)
	}
	return &gs, nil
}

func (c *Controller) state(key string) *sourceState {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sources[key]
	if !ok {
		s = &sourceState{}
		c.sources[key] = s
	}
	return s
}

func (c *Controller) forget(key string) {
	c.mu.Lock()
	s := c.sources[key]
	delete(c.sources, key)
	c.mu.Unlock()
	if s != nil {
		s.stopWatch()
	}
}

func (c *Controller) stopWatches() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sources {
		s.stopWatch()
	}
}

// impersonating is a dynamic client acting as user.
func (c *Controller) impersonating(user string) (dynamic.Interface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.impersonated[user]; ok {
		return d, nil
	}
	cfg := rest.CopyConfig(c.config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.impersonated[user] = d
	return d, nil
}

// sourceState is what the controller remembers about one source between
// syncs. Only the worker syncing the source touches it (the queue never
// hands one key to two workers), except triggered.
type sourceState struct {
	triggered atomic.Bool

	watchCancel context.CancelFunc
	watchPath   string

	// last is the last successful fetch of fetchKey (URL and ref), at
	// lastFetch; fetched its commit.
	last      *fetch.Result
	fetchKey  string
	lastFetch time.Time
	fetched   string

	// applied is the commit whose objects desired holds, generation the
	// spec generation it was applied with, appliedMessage what Synced said.
	applied        string
	generation     int64
	desired        []Applied
	appliedMessage string

	// failedCommit, failedGeneration and failedAccept are the last
	// commit, spec and force-push acceptance that could not be applied
	// (already reported; not retried until one changes).
	failedCommit     string
	failedGeneration int64
	failedAccept     string

	// written is the status this controller wrote last, at writtenAt.
	written   *berthv1alpha1.GitSourceStatus
	writtenAt time.Time

	// healthCache holds the health of live objects by UID and
	// resourceVersion: a pass over thousands of objects only evaluates
	// those that changed.
	healthCache map[types.UID]cachedHealth
}

type cachedHealth struct {
	resourceVersion string
	result          health.Result
}

// healthOf is health.Of, remembered per object version. Services depend on
// their endpoints as well and are always evaluated.
func (s *sourceState) healthOf(live *unstructured.Unstructured, endpoints health.Endpoints) health.Result {
	if live == nil || live.GetKind() == "Service" {
		return health.Of(live, endpoints)
	}
	if c, ok := s.healthCache[live.GetUID()]; ok && c.resourceVersion == live.GetResourceVersion() {
		return c.result
	}
	r := health.Of(live, endpoints)
	if s.healthCache == nil {
		s.healthCache = map[types.UID]cachedHealth{}
	}
	s.healthCache[live.GetUID()] = cachedHealth{live.GetResourceVersion(), r}
	return r
}

func (s *sourceState) stopWatch() {
	if s.watchCancel != nil {
		s.watchCancel()
		s.watchCancel, s.watchPath = nil, ""
	}
}
