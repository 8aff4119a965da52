package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/scheduler"
	"github.com/berth-io/berth/store/server"
)

// Components `berth server` runs in-process unless --disable names them.
const (
	componentControllers = "controllers"
	componentScheduler   = "scheduler"
)

var inProcessComponents = []string{componentControllers, componentScheduler}

// runComponents starts the controller manager and the scheduler next to
// the API server. They talk to it over HTTPS with their own identities and
// RBAC roles, exactly as they would from another machine, and elect
// leaders so that `berth controllers` / `berth scheduler` elsewhere can
// stand by. It returns once they are started; errors arrive on the channel.
func runComponents(ctx context.Context, s *server.Server, disabled []string, settings controllerSettings, log *slog.Logger) (<-chan error, error) {
	for _, d := range disabled {
		if !slices.Contains(inProcessComponents, d) {
			return nil, usageError{fmt.Errorf("--disable %q: the components are %v", d, inProcessComponents)}
		}
	}
	errs := make(chan error, len(inProcessComponents))
	if !slices.Contains(disabled, componentControllers) {
		path := filepath.Join(s.DataDir(), "controller-manager.kubeconfig")
		if err := s.WriteComponentKubeconfig(path, server.ControllerManagerUser, nil); err != nil {
			return nil, err
		}
		config, err := restConfig(path, 200, 400)
		if err != nil {
			return nil, err
		}
		m, err := controllers.New(config, controllers.Options{LeaderElect: true, Workers: 5, Log: log.With("component", "controllers")})
		if err != nil {
			return nil, err
		}
		if err := registerControllers(m, settings); err != nil {
			return nil, err
		}
		go func() { errs <- wrap("controllers", m.Run(ctx)) }()
	}
	if !slices.Contains(disabled, componentScheduler) {
		path := filepath.Join(s.DataDir(), "scheduler.kubeconfig")
		if err := s.WriteComponentKubeconfig(path, server.SchedulerUser, nil); err != nil {
			return nil, err
		}
		config, err := restConfig(path, 0, 0)
		if err != nil {
			return nil, err
		}
		opts := scheduler.ComponentOptions{LeaderElect: true}
		opts.Log = log.With("component", "scheduler")
		opts.LeaderElection.Log = opts.Log
		go func() { errs <- wrap("scheduler", scheduler.Serve(ctx, config, opts)) }()
	}
	return errs, nil
}

func wrap(component string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", component, err)
}
