package clusterdns

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/berth-io/berth/store/servertest"
)

// TestServerAnswersFromTheAPIAndForwardsTheRest runs the server against a
// real API server and a stand-in upstream resolver on loopback.
func TestServerAnswersFromTheAPIAndForwardsTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	api := servertest.Start(t)
	upstream := startUpstream(t, "example.com.", "93.184.216.34")

	svc, err := api.Admin.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}, Selector: map[string]string{"app": "hello"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(api.Admin, 0)
	s, err := New(factory, Config{Addr: "127.0.0.1:0", Upstreams: []string{upstream}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go func() {
		if err := s.Serve(ctx); err != nil {
			t.Error(err)
		}
	}()

	ask := func(name string, qtype uint16, network string) *dns.Msg {
		t.Helper()
		c := dns.Client{Net: network, Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, qtype), addr.String())
		if err != nil {
			t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
		}
		return resp
	}
	for _, network := range []string{"udp", "tcp"} {
		resp := ask("hello.default.svc.cluster.local.", dns.TypeA, network)
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != svc.Spec.ClusterIP {
			t.Fatalf("%s: want %s, got %v", network, svc.Spec.ClusterIP, resp)
		}
	}
	if resp := ask("nope.default.svc.cluster.local.", dns.TypeA, "udp"); resp.Rcode != dns.RcodeNameError || len(resp.Ns) != 1 {
		t.Fatalf("unknown service: want NXDOMAIN with an SOA, got %v", resp)
	}
	if resp := ask("example.com.", dns.TypeA, "udp"); len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "93.184.216.34" {
		t.Fatalf("forwarded: %v", resp)
	}

	// A headless Service answers with its ready endpoints, and follows
	// changes to its slices.
	if _, err := api.Admin.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Port: 5432}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ready, unready := true, false
	if _, err := api.Admin.DiscoveryV1().EndpointSlices("default").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "db-1", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.0.9"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}},
			{Addresses: []string{"10.244.0.10"}, Conditions: discoveryv1.EndpointConditions{Ready: &unready}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := ask("db.default.svc.cluster.local.", dns.TypeA, "udp")
		if len(resp.Answer) == 1 && resp.Answer[0].(*dns.A).A.String() == "10.244.0.9" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("headless service: want only the ready endpoint 10.244.0.9, got %v", resp)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServerAnswersServfailWhenUpstreamsAreDown checks that a name outside
// the cluster fails fast and clearly when no upstream answers.
func TestServerAnswersServfailWhenUpstreamsAreDown(t *testing.T) {
	api := servertest.Start(t)
	factory := informers.NewSharedInformerFactory(api.Admin, 0)
	s, err := New(factory, Config{Addr: "127.0.0.1:0", Upstreams: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp := s.answer(new(dns.Msg).SetQuestion("example.com.", dns.TypeA), "udp")
	if resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("want SERVFAIL, got %v", resp)
	}
}

// startUpstream serves one A record on a loopback UDP port.
func startUpstream(t *testing.T, name, ip string) string {
	t.Helper()
	mux := dns.NewServeMux()
	mux.HandleFunc(name, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		rr, _ := dns.NewRR(name + " 60 IN A " + ip)
		m.Answer = []dns.RR{rr}
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &dns.Server{Addr: "127.0.0.1:0", Net: "udp", Handler: mux, NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ListenAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return srv.PacketConn.LocalAddr().String()
}
