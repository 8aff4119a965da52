package apiserver

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-io/berth/store/authn"
)

var errImpersonationOff = errors.New("impersonation is not enabled on this server")

// forbidden builds the 403 kube-apiserver sends, naming user, verb and target.
func forbidden(user *authn.User, info RequestInfo, reason string) error {
	var msg string
	if info.IsResource {
		resource := info.Resource
		if info.Subresource != "" {
			resource += "/" + info.Subresource
		}
		msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q", user.Name, info.Verb, resource, info.APIGroup)
		if info.Namespace != "" {
			msg += fmt.Sprintf(" in the namespace %q", info.Namespace)
		} else {
			msg += " at the cluster scope"
		}
	} else {
		msg = fmt.Sprintf("User %q cannot %s path %q", user.Name, info.Verb, info.Path)
	}
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: info.APIGroup, Resource: info.Resource}, info.Name, errors.New(msg))
}

// metrics are the API server's Prometheus series.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	watchers *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total", Help: "API requests by verb, group, resource, subresource and HTTP code.",
		}, []string{"verb", "group", "resource", "subresource", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "apiserver_request_duration_seconds", Help: "API request latency by verb and resource (watches excluded).",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"verb", "group", "resource"}),
		watchers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_registered_watchers", Help: "Open watches by group and resource.",
		}, []string{"group", "resource"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.watchers)
	}
	return m
}

func (m *metrics) observe(info RequestInfo, code int, took time.Duration) {
	verb := info.Verb
	if !info.IsResource {
		verb = "nonresource_" + verb
	}
	m.requests.WithLabelValues(verb, info.APIGroup, info.Resource, info.Subresource, strconv.Itoa(code)).Inc()
	if info.Verb != "watch" {
		m.latency.WithLabelValues(verb, info.APIGroup, info.Resource).Observe(took.Seconds())
	}
}

// AuditLog writes one JSON line per request: who did what, the answer and
// how long it took. Lines are buffered and flushed every 100 ms.
type AuditLog struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *json.Encoder
}

// auditRecord is one line of the audit log.
type auditRecord struct {
	Time        time.Time `json:"time"`
	User        string    `json:"user"`
	Groups      []string  `json:"groups,omitempty"`
	Verb        string    `json:"verb"`
	Group       string    `json:"group,omitempty"`
	Resource    string    `json:"resource,omitempty"`
	Subresource string    `json:"subresource,omitempty"`
	Namespace   string    `json:"namespace,omitempty"`
	Name        string    `json:"name,omitempty"`
	Path        string    `json:"path,omitempty"`
	Code        int       `json:"code"`
	LatencyMS   float64   `json:"latencyMs"`
}

// NewAuditLog writes to w until stop is closed.
func NewAuditLog(w io.Writer, stop <-chan struct{}) *AuditLog {
	bw := bufio.NewWriterSize(w, 64<<10)
	a := &AuditLog{w: bw, enc: json.NewEncoder(bw)}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				a.Flush()
				return
			case <-t.C:
				a.Flush()
			}
		}
	}()
	return a
}

// Record appends one request.
func (a *AuditLog) Record(user *authn.User, info RequestInfo, code int, took time.Duration) {
	rec := auditRecord{Time: time.Now().UTC(), Verb: info.Verb, Group: info.APIGroup, Resource: info.Resource,
		Subresource: info.Subresource, Namespace: info.Namespace, Name: info.Name, Code: code,
		LatencyMS: float64(took.Microseconds()) / 1000}
	if user != nil {
		rec.User, rec.Groups = user.Name, user.Groups
	}
	if !info.IsResource {
		rec.Path = info.Path
	}
	a.mu.Lock()
	_ = a.enc.Encode(&rec)
	a.mu.Unlock()
}

// Flush writes buffered lines out.
func (a *AuditLog) Flush() {
	a.mu.Lock()
	_ = a.w.Flush()
	a.mu.Unlock()
}
