package storage

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

func newLatency() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "etcd_request_duration_seconds",
		Help:    "Latency of the API server's etcd requests by operation.",
		Buckets: []float64{0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
	}, []string{"operation"})
}

// Collectors are the Store's Prometheus metrics, to register with /metrics.
func (s *Store) Collectors() []prometheus.Collector { return []prometheus.Collector{s.latency} }

// observe records one etcd request and maps etcd's refusals to the
// Store's errors.
func (s *Store) observe(operation string, start time.Time, err error) error {
	s.latency.WithLabelValues(operation).Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpctypes.ErrRequestTooLarge) || err.Error() == rpctypes.ErrRequestTooLarge.Error():
		return ErrTooLarge
	case isCompacted(err):
		return ErrCompacted
	}
	return err
}
