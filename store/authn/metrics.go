package authn

import "github.com/prometheus/client_golang/prometheus"

// Results of an authentication attempt, as the metric labels them.
const (
	resultSuccess   = "success"
	resultFailure   = "failure"
	resultAnonymous = "anonymous"
)

// Metrics counts authentication attempts by result: "success", "failure"
// (credentials presented but refused) or "anonymous" (none presented).
type Metrics struct {
	attempts *prometheus.CounterVec
}

// NewMetrics creates the counter berth_authentication_attempts_total and
// registers it with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_authentication_attempts_total",
		Help: "Authentication attempts of API requests by result (success, failure, anonymous).",
	}, []string{"result"})
	if err := reg.Register(attempts); err != nil {
		return nil, err
	}
	return &Metrics{attempts: attempts}, nil
}

// observe counts one attempt; a nil Metrics counts nothing.
func (m *Metrics) observe(result string) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(result).Inc()
}
