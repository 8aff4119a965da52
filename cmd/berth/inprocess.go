package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/berth-io/berth/agents/agent"
	"github.com/berth-io/berth/agents/kubelet/node"
	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/gitsync"
	"github.com/berth-io/berth/reconciler/gitsync/webhook"
	"github.com/berth-io/berth/reconciler/scheduler"
	"github.com/berth-io/berth/store/server"
)

// Components `berth server` runs in-process unless --disable names them.
const (
	componentControllers = "controllers"
	componentScheduler   = "scheduler"
	componentGitSync     = "gitsync"
	componentAgent       = "agent"
)

var inProcessComponents = []string{componentControllers, componentScheduler, componentGitSync, componentAgent}

// inProcess is what `berth server` runs next to the API server. Each
// component talks to it over HTTPS with its own identity and RBAC role,
// exactly as it would from another machine, and the control-plane ones
// elect leaders so that `berth controllers`, `berth scheduler` and
// `berth gitsync` elsewhere can stand by.
type inProcess struct {
	disabled    []string
	controllers controllerSettings
	agent       agent.Config
	// webhook is mounted on the API server before it starts and served by
	// gitsync once it runs.
	webhook webhook.Late
	log     *slog.Logger
}

func (p *inProcess) validate() error {
	for _, d := range p.disabled {
		if !slices.Contains(inProcessComponents, d) {
			return usageError{fmt.Errorf("--disable %q: the components are %s", d, strings.Join(inProcessComponents, ", "))}
		}
	}
	return nil
}

func (p *inProcess) enabled(component string) bool { return !slices.Contains(p.disabled, component) }

// start starts the enabled components. It returns once they are started;
// their errors arrive on the channel.
func (p *inProcess) start(ctx context.Context, s *server.Server) (<-chan error, error) {
	errs := make(chan error, len(inProcessComponents))
	starts := []struct {
		name  string
		start func(context.Context, *server.Server) (func(context.Context) error, error)
	}{
		{componentControllers, p.startControllers},
		{componentScheduler, p.startScheduler},
		{componentGitSync, p.startGitSync},
		{componentAgent, p.startAgent},
	}
	for _, c := range starts {
		if !p.enabled(c.name) {
			continue
		}
		run, err := c.start(ctx, s)
		if err != nil {
			return nil, wrap(c.name, err)
		}
		go func() { errs <- wrap(c.name, run(ctx)) }()
	}
	return errs, nil
}

func (p *inProcess) startControllers(_ context.Context, s *server.Server) (func(context.Context) error, error) {
	config, err := componentConfig(s, "controller-manager.kubeconfig", "kube-controller-manager", server.ControllerManagerUser, 200, 400)
	if err != nil {
		return nil, err
	}
	m, err := controllers.New(config, controllers.Options{LeaderElect: true, Workers: 5, Log: p.log.With("component", "controllers")})
	if err != nil {
		return nil, err
	}
	if err := registerControllers(m, p.controllers); err != nil {
		return nil, err
	}
	return m.Run, nil
}

func (p *inProcess) startScheduler(_ context.Context, s *server.Server) (func(context.Context) error, error) {
	config, err := componentConfig(s, "scheduler.kubeconfig", "kube-scheduler", server.SchedulerUser, 0, 0)
	if err != nil {
		return nil, err
	}
	opts := scheduler.ComponentOptions{LeaderElect: true}
	opts.Log = p.log.With("component", "scheduler")
	opts.LeaderElection.Log = opts.Log
	return func(ctx context.Context) error { return scheduler.Serve(ctx, config, opts) }, nil
}

func (p *inProcess) startGitSync(_ context.Context, s *server.Server) (func(context.Context) error, error) {
	config, err := componentConfig(s, "gitsync.kubeconfig", "berth-gitsync", server.GitSyncUser, 500, 1000)
	if err != nil {
		return nil, err
	}
	ctl, err := gitsync.New(config, gitsync.Options{
		DataDir: filepath.Join(s.DataDir(), "gitsync"), LeaderElect: true, Log: p.log.With("component", "gitsync"),
	})
	if err != nil {
		return nil, err
	}
	ctl.ReportBack(gitsync.ReportOptions{})
	p.webhook.Set(ctl.Webhook())
	return ctl.Run, nil
}

// startAgent runs this machine as a node, with node credentials the
// server issues to itself under DATA_DIR/agent/node.
func (p *inProcess) startAgent(_ context.Context, s *server.Server) (func(context.Context) error, error) {
	cfg := p.agent
	cfg.DataDir = s.DataDir()
	cfg.Network.ClusterCIDR = p.controllers.clusterCIDR
	cfg.Log = p.log.With("component", "agent")
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("no --node-name and no host name: %w", err)
		}
		cfg.NodeName = strings.ToLower(h)
	}
	if cfg.NodeIP == "" {
		ip, err := node.DefaultRouteIP()
		if err != nil {
			return nil, fmt.Errorf("%w (pass --node-ip)", err)
		}
		cfg.NodeIP = ip
	}
	dir := filepath.Join(s.DataDir(), "agent", "node")
	if err := s.WriteNodeCredentials(dir, cfg.NodeName, []string{cfg.NodeIP}); err != nil {
		return nil, err
	}
	if err := cfg.UseCredentials(dir); err != nil {
		return nil, err
	}
	cfg.Rest.UserAgent = "kubelet"
	return func(ctx context.Context) error { return agent.Run(ctx, cfg) }, nil
}

// componentConfig writes the kubeconfig of a component's identity into
// the data dir and returns a client config from
// it whose User-Agent, and so default field manager, is the component's.
func componentConfig(s *server.Server, file, component, user string, qps float32, burst int) (*rest.Config, error) {
	path := filepath.Join(s.DataDir(), file)
	if err := s.WriteComponentKubeconfig(path, user, nil); err != nil {
		return nil, err
	}
	config, err := restConfig(path, qps, burst)
	if err != nil {
		return nil, err
	}
	config.UserAgent = component
	return config, nil
}

func wrap(component string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", component, err)
}
