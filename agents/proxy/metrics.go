package proxy

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	duration *prometheus.HistogramVec
	rules    prometheus.Gauge
	elements prometheus.Gauge
	lastSync prometheus.Gauge
	errors   prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "berth_proxy_sync_duration_seconds",
			Help:    "Time to compute and program one sync of the proxy's nftables table; kind is full (listed from the kernel) or partial.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"kind"}),
		rules:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "berth_proxy_rules", Help: "Rules programmed in the proxy's nftables table."}),
		elements: prometheus.NewGauge(prometheus.GaugeOpts{Name: "berth_proxy_set_elements", Help: "Set and map elements programmed in the proxy's nftables table (not counting affinity entries)."}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{Name: "berth_proxy_last_sync_timestamp_seconds", Help: "Unix time of the proxy's last successful sync."}),
		errors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_proxy_sync_errors_total", Help: "Syncs of the proxy's nftables table that failed."}),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	return errors.Join(r.Register(m.duration), r.Register(m.rules), r.Register(m.elements), r.Register(m.lastSync), r.Register(m.errors))
}
