package policies

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Store's Prometheus metrics.
type metrics struct {
	reloads     *prometheus.CounterVec
	loadErrors  prometheus.Gauge
	lastSuccess prometheus.Gauge
}

// newMetrics creates the metrics and registers them on reg, when not nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_policy_reload_total",
			Help: "Loads of the RBAC policy files, by result (success or failure).",
		}, []string{"result"}),
		loadErrors: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_policy_load_errors",
			Help: "Errors found by the latest load of the RBAC policy files; while above zero the last good policy stays in force.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_policy_last_success_timestamp_seconds",
			Help: "Unix time of the latest successful load of the RBAC policy files.",
		}),
	}
	// Both results exist from the start, so that rate() sees the first one.
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.reloads, m.loadErrors, m.lastSuccess} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}
