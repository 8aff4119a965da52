package clusterdns

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// BenchmarkQueryUDP measures a cluster name answered over UDP on loopback
// with 10,000 Services known, reporting p50/p99 round trips.
func BenchmarkQueryUDP(b *testing.B) {
	v := mapView{services: map[string]*corev1.Service{}}
	for i := range 10000 {
		name := fmt.Sprintf("svc-%d", i)
		v.services["default/"+name] = service("default", name, fmt.Sprintf("10.96.%d.%d", i/250, i%250+1))
	}
	started := make(chan struct{})
	srv := &dns.Server{Addr: "127.0.0.1:0", Net: "udp", NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			res := Resolve(r.Question[0], "cluster.local", v, 5)
			m := new(dns.Msg).SetRcode(r, res.Rcode)
			m.Answer = res.Answer
			_ = w.WriteMsg(m)
		})}
	go func() { _ = srv.ListenAndServe() }()
	<-started
	defer srv.Shutdown()
	c := dns.Client{Timeout: time.Second}
	conn, err := c.Dial(srv.PacketConn.LocalAddr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		resp, _, err := c.ExchangeWithConn(new(dns.Msg).SetQuestion(fmt.Sprintf("svc-%d.default.svc.cluster.local.", i%10000), dns.TypeA), conn)
		if err != nil || len(resp.Answer) != 1 {
			b.Fatalf("%v %v", err, resp)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
