// Package controllers is the controller manager: it runs the registered
// controllers on one shared informer factory and one event broadcaster,
// while it holds the Lease kube-system/kube-controller-manager, so that of
// several copies exactly one acts at a time. The controllers themselves
// live in the subpackages and are registered by the command wiring.
package controllers

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/berth-io/berth/reconciler/informer"
	"github.com/berth-io/berth/reconciler/leader"
)

// Controller is one control loop the manager runs while it leads.
type Controller interface {
	// Run processes work with the given number of workers until ctx is
	// done, then returns.
	Run(ctx context.Context, workers int)
}

// Context is what a controller is built from. One is made per leadership
// term, and everything in it is shared by the controllers of that term.
type Context struct {
	// Config is the manager's client configuration, for clients of other
	// kinds (metadata, dynamic) than Client serves.
	Config *rest.Config
	// Client is the manager's typed clientset.
	Client kubernetes.Interface
	// Informers is the shared informer factory. A controller must ask it
	// for every informer it reads while it is built: the manager starts
	// them and waits for their caches to sync before any controller runs.
	Informers informers.SharedInformerFactory
	// Recorder sends events to the API server from the registration's
	// Component.
	Recorder record.EventRecorder
	// Log is the manager's logger, with the controller's name.
	Log *slog.Logger
}

// NewFunc builds a controller from the shared context.
type NewFunc func(Context) (Controller, error)

// Registration names a controller and says how to build it.
type Registration struct {
	// Name identifies the controller on the command line (--disable).
	Name string
	// Component is the source of the controller's events, as "kubectl
	// describe" shows it ("deployment-controller"); "<Name>-controller"
	// when empty.
	Component string
	// New builds the controller.
	New NewFunc
}

// Options configure a Manager.
type Options struct {
	// Workers is how many workers each controller runs (default 5, as
	// kube-controller-manager's --concurrent-*-syncs).
	Workers int
	// Disabled names registered controllers not to run.
	Disabled []string
	// LeaderElect runs the controllers only while this manager holds the
	// Lease kube-system/kube-controller-manager; without it they run at once.
	LeaderElect bool
	// Leader tunes the election (zero values: 15 s lease, 10 s renew
	// deadline, 2 s retry); its Recorder and Log are set by the manager.
	Leader leader.Options
	// Identity is this manager's name in the Lease (default "<hostname>_<uuid>").
	Identity string
	// ResyncPeriod is how often informers replay their cache to the
	// controllers (default 12 h, kube-controller-manager's minimum).
	ResyncPeriod time.Duration
	// Log receives the manager's messages; nil discards them.
	Log *slog.Logger
}

// The Lease the controller managers elect a leader on, and the source of
// their leader-election events.
const (
	LeaseNamespace = "kube-system"
	LeaseName      = "kube-controller-manager"
	Component      = "kube-controller-manager"
)

// Manager runs registered controllers.
type Manager struct {
	config        *rest.Config
	client        kubernetes.Interface
	opts          Options
	registrations []Registration
}

// New makes a manager that talks to the API server of config.
func New(config *rest.Config, opts Options) (*Manager, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("controller manager client for %s: %w", config.Host, err)
	}
	if opts.Workers <= 0 {
		opts.Workers = 5
	}
	if opts.ResyncPeriod <= 0 {
		opts.ResyncPeriod = 12 * time.Hour
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Manager{config: config, client: client, opts: opts}, nil
}

// Register adds a controller. Names must be unique and non-empty.
func (m *Manager) Register(r Registration) error {
	switch {
	case r.Name == "":
		return fmt.Errorf("registering a controller: empty name")
	case r.New == nil:
		return fmt.Errorf("registering controller %q: no New function", r.Name)
	case slices.ContainsFunc(m.registrations, func(o Registration) bool { return o.Name == r.Name }):
		return fmt.Errorf("registering controller %q: the name is taken", r.Name)
	}
	m.registrations = append(m.registrations, r)
	return nil
}

// Run runs the enabled controllers until ctx is done: at once, or with
// LeaderElect in every term this manager leads. It returns an error when a
// disabled name is unknown or a controller cannot be built.
func (m *Manager) Run(ctx context.Context) error {
	enabled, err := m.enabled()
	if err != nil {
		return err
	}
	// The broadcaster outlives ctx so that the last events (such as
	// "stopped leading") are still sent.
	broadcaster := record.NewBroadcaster(record.WithContext(context.WithoutCancel(ctx)))
	defer broadcaster.Shutdown()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: m.client.CoreV1().Events("")})

	if !m.opts.LeaderElect {
		return m.runTerm(ctx, enabled, broadcaster)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var termErr error
	opts := m.opts.Leader
	opts.Recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component})
	opts.Log = m.opts.Log
	err = leader.Run(ctx, m.client, LeaseNamespace, LeaseName, m.opts.Identity, opts, func(ctx context.Context) {
		if err := m.runTerm(ctx, enabled, broadcaster); err != nil {
			termErr = err
			cancel()
		}
	})
	if err != nil {
		return err
	}
	return termErr
}

// enabled is the registrations not disabled, or an error naming a
// disabled controller that is not registered.
func (m *Manager) enabled() ([]Registration, error) {
	names := make([]string, len(m.registrations))
	for i, r := range m.registrations {
		names[i] = r.Name
	}
	for _, d := range m.opts.Disabled {
		if !slices.Contains(names, d) {
			return nil, fmt.Errorf("--disable %s: no such controller (known: %s)", d, strings.Join(names, ", "))
		}
	}
	var enabled []Registration
	for _, r := range m.registrations {
		if !slices.Contains(m.opts.Disabled, r.Name) {
			enabled = append(enabled, r)
		}
	}
	return enabled, nil
}

// runTerm builds the controllers on a fresh informer factory, starts and
// syncs its informers, and runs the controllers until ctx is done.
func (m *Manager) runTerm(ctx context.Context, registrations []Registration, broadcaster record.EventBroadcaster) error {
	factory := informer.NewFactory(m.client, m.opts.ResyncPeriod)
	// Shutdown waits for the informers, which stop when ctx is cancelled.
	defer factory.Shutdown()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	running := make([]Controller, len(registrations))
	for i, r := range registrations {
		component := r.Component
		if component == "" {
			component = r.Name + "-controller"
		}
		c, err := r.New(Context{
			Config:    m.config,
			Client:    m.client,
			Informers: factory,
			Recorder:  broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}),
			Log:       m.opts.Log.With("controller", r.Name),
		})
		if err != nil {
			return fmt.Errorf("building controller %s: %w", r.Name, err)
		}
		running[i] = c
	}
	factory.Start(ctx.Done())
	for informer, synced := range factory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			m.opts.Log.Info("stopped before the informer caches synced", "informer", informer.String())
			return nil
		}
	}
	m.opts.Log.Info("running controllers", "count", len(running), "workers", m.opts.Workers)
	var wg sync.WaitGroup
	for _, c := range running {
		wg.Go(func() { c.Run(ctx, m.opts.Workers) })
	}
	wg.Wait()
	return nil
}
