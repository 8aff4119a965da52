package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/berth-io/berth/agents/nettest"
	"github.com/berth-io/berth/agents/proxy/nft"
	"github.com/berth-io/berth/store/servertest"
)

// testHosts is a node namespace with a bridge of three pod namespaces
// (each serving its name over HTTP on :8080) and a client namespace one
// hop away (off-node traffic).
type testHosts struct {
	node, client *nettest.Netns
	pods         []*nettest.Netns
	podIPs       []string
}

const nodeIP = "192.168.50.1"

func newTestHosts(t *testing.T) *testHosts {
	h := &testHosts{node: nettest.New(t, "pxnode"), client: nettest.New(t, "pxclient")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.node.Sysctl("ipv4/ip_forward", "1"))
	must(h.node.Bridge("br0", "10.244.0.1/24"))
	must(h.node.DefaultRoute("", "br0"))
	must(h.node.Veth("eth0", nodeIP+"/24", "", h.client, "eth0", "192.168.50.2/24"))
	must(h.client.DefaultRoute(nodeIP, ""))
	for i := range 3 {
		name := fmt.Sprintf("pod%d", i)
		pod := nettest.New(t, "px"+name)
		ip := fmt.Sprintf("10.244.0.%d", 10+i)
		must(h.node.Veth("veth"+strconv.Itoa(i), "", "br0", pod, "eth0", ip+"/24"))
		must(pod.DefaultRoute("10.244.0.1", ""))
		pod.Serve(t, ":8080", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/client" {
				// Who the pod sees: masqueraded or not.
				host, _, _ := net.SplitHostPort(r.RemoteAddr)
				fmt.Fprint(w, host)
				return
			}
			fmt.Fprint(w, name)
		}))
		udp, err := pod.ListenPacket("udp", ":5353")
		must(err)
		go func() {
			buf := make([]byte, 64)
			for {
				_, from, err := udp.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = udp.WriteTo([]byte(name), from)
			}
		}()
		t.Cleanup(func() { _ = udp.Close() })
		h.pods = append(h.pods, pod)
		h.podIPs = append(h.podIPs, ip)
	}
	return h
}

type epState struct {
	ready, terminating bool
	node               string
}

func endpointSlice(h *testHosts, states ...epState) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "hello-1", Labels: map[string]string{discoveryv1.LabelServiceName: "hello", discoveryv1.LabelManagedBy: "proxy-test"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(v1.ProtocolTCP), Port: ptr.To[int32](8080)},
			{Name: ptr.To("dns"), Protocol: ptr.To(v1.ProtocolUDP), Port: ptr.To[int32](5353)}},
	}
	for i, st := range states {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{h.podIPs[i]}, NodeName: ptr.To(st.node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(st.ready), Serving: ptr.To(st.ready || st.terminating), Terminating: ptr.To(st.terminating)}})
	}
	return s
}

// poll calls f until it returns nil or the deadline passes.
func poll(t *testing.T, within time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < within {
		if err = f(); err == nil {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, within, err)
	return 0
}

func TestProxyRoutesRealTraffic(t *testing.T) {
	api := servertest.Start(t)
	api.Namespace("proxytest")
	h := newTestHosts(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := api.Admin

	svc, err := client.CoreV1().Services("proxytest").Create(ctx, &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeNodePort, Selector: map[string]string{"app": "hello"},
			Ports: []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, TargetPort: intOrString(8080)},
				{Name: "dns", Protocol: v1.ProtocolUDP, Port: 53, TargetPort: intOrString(5353)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slices := client.DiscoveryV1().EndpointSlices("proxytest")
	slice, err := slices.Create(ctx, endpointSlice(h, epState{ready: true, node: "node1"}, epState{ready: true, node: "node2"}, epState{ready: true, node: "node2"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	updateSlice := func(states ...epState) {
		t.Helper()
		next := endpointSlice(h, states...)
		slice.Endpoints = next.Endpoints
		if slice, err = slices.Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	updateService := func(mutate func(*v1.Service)) {
		t.Helper()
		mutate(svc)
		if svc, err = client.CoreV1().Services("proxytest").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	table := "berth-proxy-" + h.node.Name[len(h.node.Name)-8:]
	reg := prometheus.NewRegistry()
	p, err := New(client, Config{NodeName: "node1", NodeIPs: []netip.Addr{netip.MustParseAddr(nodeIP)}, ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
		MinSyncPeriod: 20 * time.Millisecond, Table: table, NetNSFd: h.node.Fd(), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	clusterURL := "http://" + svc.Spec.ClusterIP + ":80/"
	get := func(ns *nettest.Netns, url string) (string, error) {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return ns.Get(c, url)
	}
	spread := func(ns *nettest.Netns, url string, n int) map[string]int {
		t.Helper()
		counts := map[string]int{}
		for range n {
			body, err := get(ns, url)
			if err != nil {
				t.Fatalf("GET %s from %s: %v", url, ns.Name, err)
			}
			counts[body]++
		}
		return counts
	}
	poll(t, 10*time.Second, "ClusterIP answers from the node", func() error { _, err := get(h.node, clusterURL); return err })

	t.Run("ClusterIP spreads over the ready endpoints", func(t *testing.T) {
		counts := spread(h.node, clusterURL, 300)
		for _, pod := range []string{"pod0", "pod1", "pod2"} {
			if counts[pod] < 60 {
				t.Fatalf("300 requests spread as %v: %s got fewer than 60", counts, pod)
			}
		}
		t.Logf("300 requests: %v", counts)
	})

	t.Run("a UDP flow moves off an endpoint that turned unready", func(t *testing.T) {
		conn, err := h.node.DialContext(ctx, "udp", svc.Spec.ClusterIP+":53")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ask := func() (string, error) {
			if _, err := conn.Write([]byte("?")); err != nil {
				return "", err
			}
			_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			buf := make([]byte, 64)
			n, err := conn.Read(buf)
			return string(buf[:n]), err
		}
		var first string
		poll(t, 5*time.Second, "the UDP port answers", func() error { first, err = ask(); return err })
		states := []epState{{ready: true, node: "node1"}, {ready: true, node: "node2"}, {ready: true, node: "node2"}}
		states[first[3]-'0'].ready = false
		updateSlice(states...)
		// Without deleting the flow's conntrack entry, the same socket
		// would keep reaching the unready (but alive) pod.
		poll(t, 5*time.Second, "the same socket reaches another pod", func() error {
			got, err := ask()
			if err == nil && got == first {
				err = fmt.Errorf("still answered by %s", got)
			}
			return err
		})
		updateSlice(epState{ready: true, node: "node1"}, epState{ready: true, node: "node2"}, epState{ready: true, node: "node2"})
		poll(t, 5*time.Second, "all three pods answer again", func() error {
			if counts := spread(h.node, clusterURL, 60); len(counts) != 3 {
				return fmt.Errorf("spread %v", counts)
			}
			return nil
		})
	})

	t.Run("a pod reaches its own service (hairpin)", func(t *testing.T) {
		poll(t, 5*time.Second, "pod0 reaches itself through the ClusterIP", func() error {
			if counts := spread(h.pods[0], clusterURL, 30); counts["pod0"] == 0 {
				return fmt.Errorf("spread %v", counts)
			}
			return nil
		})
	})

	t.Run("off-node traffic to the ClusterIP is masqueraded", func(t *testing.T) {
		if got, err := get(h.client, clusterURL+"client"); err != nil || got != "10.244.0.1" {
			t.Fatalf("the pod saw the off-node client as %q (%v), want the node's 10.244.0.1", got, err)
		}
	})

	t.Run("NodePort answers on the node IP from off-node and on 127.0.0.1", func(t *testing.T) {
		port := svc.Spec.Ports[0].NodePort
		if _, err := get(h.client, fmt.Sprintf("http://%s:%d/", nodeIP, port)); err != nil {
			t.Fatalf("NodePort from the client: %v", err)
		}
		if _, err := get(h.node, fmt.Sprintf("http://127.0.0.1:%d/", port)); err != nil {
			t.Fatalf("NodePort on 127.0.0.1: %v", err)
		}
	})

	t.Run("an endpoint turned unready stops receiving within a second", func(t *testing.T) {
		updateSlice(epState{ready: true, node: "node1"}, epState{ready: true, node: "node2"}, epState{ready: false, node: "node2"})
		took := poll(t, 5*time.Second, "pod2 leaves the rules", func() error {
			counts := spread(h.node, clusterURL, 30)
			if counts["pod2"] > 0 {
				return fmt.Errorf("still answered: %v", counts)
			}
			return nil
		})
		if took > time.Second {
			t.Fatalf("pod2 still got traffic %v after it turned unready", took)
		}
		if counts := spread(h.node, clusterURL, 60); counts["pod2"] > 0 || counts["pod0"] == 0 || counts["pod1"] == 0 {
			t.Fatalf("after pod2 turned unready: %v", counts)
		}
	})

	t.Run("terminating serving endpoints only when none is ready", func(t *testing.T) {
		updateSlice(epState{terminating: true, node: "node1"}, epState{ready: false, node: "node2"}, epState{ready: false, node: "node2"})
		poll(t, 5*time.Second, "only the terminating pod0 answers", func() error {
			if counts := spread(h.node, clusterURL, 10); counts["pod0"] != 10 {
				return fmt.Errorf("answers %v", counts)
			}
			return nil
		})
	})

	t.Run("ClientIP affinity sticks", func(t *testing.T) {
		updateSlice(epState{ready: true, node: "node1"}, epState{ready: true, node: "node2"}, epState{ready: true, node: "node2"})
		poll(t, 5*time.Second, "all three pods answer", func() error {
			if counts := spread(h.node, clusterURL, 60); len(counts) != 3 {
				return fmt.Errorf("spread %v", counts)
			}
			return nil
		})
		updateService(func(s *v1.Service) {
			s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
		})
		poll(t, 5*time.Second, "every request goes to one endpoint", func() error {
			if counts := spread(h.node, clusterURL, 30); len(counts) != 1 {
				return fmt.Errorf("spread %v", counts)
			}
			return nil
		})
		updateService(func(s *v1.Service) {
			s.Spec.SessionAffinity = v1.ServiceAffinityNone
			s.Spec.SessionAffinityConfig = nil
		})
		poll(t, 5*time.Second, "without affinity, requests spread again", func() error {
			if counts := spread(h.node, clusterURL, 30); len(counts) < 2 {
				return fmt.Errorf("spread %v", counts)
			}
			return nil
		})
	})

	t.Run("externalTrafficPolicy Local sends NodePort traffic to local endpoints only", func(t *testing.T) {
		updateService(func(s *v1.Service) { s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal })
		url := fmt.Sprintf("http://%s:%d/", nodeIP, svc.Spec.Ports[0].NodePort)
		poll(t, 5*time.Second, "only node1's pod0 answers the NodePort", func() error {
			if counts := spread(h.client, url, 30); counts["pod0"] != 30 {
				return fmt.Errorf("spread %v", counts)
			}
			return nil
		})
		if got, err := get(h.client, url+"client"); err != nil || got != "192.168.50.2" {
			t.Fatalf("with policy Local the pod saw the client as %q (%v), want its own address 192.168.50.2", got, err)
		}
		updateService(func(s *v1.Service) { s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster })
	})

	t.Run("a change behind its back is repaired by a resync", func(t *testing.T) {
		if out, err := exec.Command("ip", "netns", "exec", h.node.Name, "nft", "flush", "map", "ip", table, "service-ips").CombinedOutput(); err != nil {
			t.Fatalf("nft flush map: %v\n%s", err, out)
		}
		c, stop := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := h.node.Get(c, clusterURL)
		stop()
		if err == nil {
			t.Fatal("the ClusterIP still answers with its map element flushed")
		}
		p.Resync()
		poll(t, 5*time.Second, "the resync restores the ClusterIP", func() error { _, err := get(h.node, clusterURL); return err })
	})

	t.Run("no endpoints: connections are refused at once", func(t *testing.T) {
		updateSlice()
		poll(t, 5*time.Second, "connection refused", func() error {
			start := time.Now()
			_, err := get(h.node, clusterURL)
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return fmt.Errorf("got %v, want connection refused", err)
			}
			if took := time.Since(start); took > 500*time.Millisecond {
				t.Fatalf("refusal took %v", took)
			}
			return nil
		})
	})

	t.Run("metrics count the syncs", func(t *testing.T) {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		value := map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				switch {
				case m.GetGauge() != nil:
					value[f.GetName()] += m.GetGauge().GetValue()
				case m.GetCounter() != nil:
					value[f.GetName()] += m.GetCounter().GetValue()
				case m.GetHistogram() != nil:
					value[f.GetName()] += float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		for _, name := range []string{"berth_proxy_sync_duration_seconds", "berth_proxy_rules", "berth_proxy_set_elements", "berth_proxy_last_sync_timestamp_seconds"} {
			if value[name] <= 0 {
				t.Errorf("metric %s = %v, want > 0", name, value[name])
			}
		}
		if _, ok := value["berth_proxy_sync_errors_total"]; !ok {
			t.Error("metric berth_proxy_sync_errors_total missing")
		}
	})

	t.Run("Cleanup leaves no table", func(t *testing.T) {
		cancel()
		<-done
		done <- nil
		if err := p.Cleanup(); err != nil {
			t.Fatal(err)
		}
		tbl, err := nft.Open(table, h.node.Fd())
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Close()
		if ok, err := tbl.Exists(); err != nil || ok {
			t.Fatalf("table %s still exists after Cleanup (%v)", table, err)
		}
	})
}

func intOrString(port int) intstr.IntOrString { return intstr.FromInt32(int32(port)) }
