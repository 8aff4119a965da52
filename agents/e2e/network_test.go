package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berth-io/berth/agents/nettest"
)

// TestServiceNetwork runs two agents in two test hosts and checks, with
// real pods and real traffic, what the proxy, the pod routes and the
// cluster DNS make of Services: load spread, readiness, affinity,
// NodePorts, refusal without endpoints, pods reaching pods across nodes by
// IP and ClusterIP, and names resolved from a pod.
func TestServiceNetwork(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.hosts[0], c.hosts[1]
	flags := t.TempDir() // hello's UNHEALTHY_FILE, one per pod
	c.createHello(flags)
	svc := c.service("hello", "hello", func(s *corev1.ServiceSpec) { s.Type = corev1.ServiceTypeNodePort })
	sticky := c.service("hello-sticky", "hello", func(s *corev1.ServiceSpec) { s.SessionAffinity = corev1.ServiceAffinityClientIP })
	local := c.service("hello-local", "hello", func(s *corev1.ServiceSpec) {
		s.Type, s.ExternalTrafficPolicy = corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyLocal
	})
	c.service("hello-headless", "hello", func(s *corev1.ServiceSpec) { s.ClusterIP = corev1.ClusterIPNone })
	pods := c.waitEndpoints("hello", 3)
	clusterURL := "http://" + svc.Spec.ClusterIP + "/"
	c.waitAnswer(a.ns, clusterURL)

	t.Run("routes to the other node's pod CIDR", func(t *testing.T) {
		for _, h := range []*host{a, b} {
			other := c.hosts[1-slices.Index(c.hosts, h)]
			cidr := c.podCIDR(other.node)
			want := fmt.Sprintf("%s via %s", cidr, other.ip)
			if got := h.berthRoutes(); !slices.Contains(got, want) {
				t.Errorf("%s routes %v, want %s", h.node, got, want)
			}
		}
	})

	t.Run("ClusterIP spreads requests over all endpoints", func(t *testing.T) {
		client := a.ns.HTTPClient(2 * time.Second)
		counts := map[string]int{}
		start := time.Now()
		for range 300 {
			body, err := get(client, clusterURL)
			if err != nil {
				t.Fatal(err)
			}
			counts[podOf(body)]++
		}
		took := time.Since(start)
		t.Logf("300 requests from %s to %s in %s (%s each, one connection each): %v", a.node, clusterURL, took.Round(time.Millisecond), (took / 300).Round(time.Microsecond), counts)
		if len(counts) != 3 {
			t.Fatalf("answered by %v, want the 3 pods %v", counts, names(pods))
		}
		for pod, n := range counts {
			if n < 60 {
				t.Errorf("pod %s got %d of 300 requests, want a fair share (>= 60): %v", pod, n, counts)
			}
		}
	})

	t.Run("hosts and pods reach pods on the other node by IP and ClusterIP", func(t *testing.T) {
		for _, p := range pods {
			for _, h := range []*host{a, b} {
				if body, err := get(h.ns.HTTPClient(2*time.Second), "http://"+p.Status.PodIP+":8080/"); err != nil || podOf(body) != p.Name {
					t.Errorf("host %s to pod %s on %s at %s: %q %v", h.node, p.Name, p.Spec.NodeName, p.Status.PodIP, body, err)
				}
			}
		}
		client := c.busyboxOn(a)
		for _, p := range pods {
			out, code, _, err := a.httpFrom(client, p.Status.PodIP, 8080)
			if err != nil || code != 0 || podOf(out) != p.Name {
				t.Errorf("pod on %s to pod %s on %s at %s: exit %d %q %v", a.node, p.Name, p.Spec.NodeName, p.Status.PodIP, code, out, err)
			}
		}
		seen := map[string]bool{}
		for range 20 {
			out, code, _, err := a.httpFrom(client, svc.Spec.ClusterIP, 80)
			if err != nil || code != 0 {
				t.Fatalf("pod on %s to ClusterIP %s: exit %d %q %v", a.node, clusterURL, code, out, err)
			}
			seen[podOf(out)] = true
		}
		if remote := c.podsOn(pods, b.node); !seen[remote[0]] {
			t.Errorf("20 requests from a pod on %s to the ClusterIP reached %v, never %v on %s", a.node, seen, remote, b.node)
		}
	})

	t.Run("cluster DNS answers pods", func(t *testing.T) {
		client := c.busyboxOn(a)
		name := "hello.default.svc.cluster.local"
		out, code, took, err := a.timed(client, "nslookup "+name)
		if err != nil || code != 0 || !strings.Contains(out, svc.Spec.ClusterIP) {
			t.Fatalf("nslookup %s in a pod: exit %d %q %v, want %s", name, code, out, err, svc.Spec.ClusterIP)
		}
		t.Logf("nslookup %s in a pod: %s (busybox time, 10 ms resolution)", name, took)
		out, code, took, err = a.timed(client, "nslookup nosuch.default.svc.cluster.local")
		if err != nil || code == 0 || !strings.Contains(out, "NXDOMAIN") {
			t.Errorf("nslookup of an unknown name in a pod: exit %d %q %v, want NXDOMAIN", code, out, err)
		}
		if took > 500*time.Millisecond {
			t.Errorf("nslookup of an unknown name took %s in the pod, want it to fail fast (< 0.5s)", took)
		}
		t.Logf("nslookup of an unknown name in a pod failed in %s: %s", took, strings.Join(strings.Fields(out), " "))
		// SRV of the named port; a headless Service names its pods.
		srv := "_http._tcp." + name
		if out, code, _, err := a.exec(client, 5*time.Second, "nslookup", "-type=SRV", srv); err != nil || code != 0 || !strings.Contains(out, "80 "+name) {
			t.Errorf("nslookup -type=SRV %s in a pod: exit %d %q %v, want port 80 on %s", srv, code, out, err, name)
		}
		out, code, _, err = a.exec(client, 5*time.Second, "nslookup", "hello-headless.default.svc.cluster.local")
		for _, p := range pods {
			if err != nil || code != 0 || !strings.Contains(out, p.Status.PodIP) {
				t.Errorf("nslookup of the headless Service in a pod: exit %d %q %v, want pod %s's IP %s", code, out, err, p.Name, p.Status.PodIP)
			}
		}
		// The search path of ClusterFirst: the short name is the Service.
		out, code, _, err = a.httpFrom(client, "hello", 80)
		if err != nil || code != 0 || podOf(out) == "" {
			t.Errorf("GET http://hello/ in a pod: exit %d %q %v", code, out, err)
		}
		// The server's own latency, from the node (no exec in the way).
		var lat []time.Duration
		dc := &dns.Client{Timeout: time.Second, Dialer: &net.Dialer{}}
		for range 200 {
			m := new(dns.Msg).SetQuestion(name+".", dns.TypeA)
			var resp *dns.Msg
			err := a.ns.Do(func() error {
				var err error
				start := time.Now()
				resp, _, err = dc.Exchange(m, net.JoinHostPort(a.ip, "53"))
				lat = append(lat, time.Since(start))
				return err
			})
			if err != nil || len(resp.Answer) != 1 {
				t.Fatalf("query %s at %s:53: %v %v", name, a.ip, resp, err)
			}
		}
		slices.Sort(lat)
		t.Logf("cluster DNS from the node, 200 UDP queries: p50 %s p99 %s", lat[100], lat[197])
	})

	t.Run("a pod reaches itself through its Service (hairpin)", func(t *testing.T) {
		client := c.busyboxOn(a)
		self := c.service("self", client.Labels["app"], nil)
		c.waitEndpoints("self", 1)
		deadline := time.Now().Add(5 * time.Second)
		for {
			out, code, _, err := a.httpFrom(client, self.Spec.ClusterIP, 80)
			if err == nil && code == 0 && podOf(out) == client.Name {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s to its own Service %s: exit %d %q %v", client.Name, self.Spec.ClusterIP, code, out, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("NodePort answers on every node", func(t *testing.T) {
		port := svc.Spec.Ports[0].NodePort
		for _, from := range []*host{a, b} {
			for _, to := range []*host{a, b} {
				u := fmt.Sprintf("http://%s:%d/", to.ip, port)
				if body, err := get(from.ns.HTTPClient(2*time.Second), u); err != nil || !strings.HasPrefix(body, "hello from ") {
					t.Errorf("from %s to %s: %q %v", from.node, u, body, err)
				}
			}
		}
	})

	t.Run("externalTrafficPolicy Local keeps NodePort traffic on the node", func(t *testing.T) {
		port := local.Spec.Ports[0].NodePort
		for _, to := range []*host{a, b} {
			onNode := c.podsOn(pods, to.node)
			client := c.hosts[1-slices.Index(c.hosts, to)].ns.HTTPClient(2 * time.Second)
			for range 20 {
				u := fmt.Sprintf("http://%s:%d/", to.ip, port)
				body, err := get(client, u)
				if err != nil || !slices.Contains(onNode, podOf(body)) {
					t.Fatalf("%s answered by %q (%v), want one of its own pods %v", u, podOf(body), err, onNode)
				}
			}
		}
	})

	t.Run("ClientIP affinity sticks", func(t *testing.T) {
		for _, h := range []*host{a, b} {
			client := h.ns.HTTPClient(2 * time.Second)
			seen := map[string]int{}
			for range 30 {
				body, err := get(client, "http://"+sticky.Spec.ClusterIP+"/")
				if err != nil {
					t.Fatal(err)
				}
				seen[podOf(body)]++
			}
			if len(seen) != 1 {
				t.Errorf("30 requests from %s with ClientIP affinity reached %v, want one pod", h.node, seen)
			}
		}
	})

	t.Run("an unready endpoint stops receiving traffic", func(t *testing.T) {
		victim := pods[0]
		client := a.ns.HTTPClient(2 * time.Second)
		type answer struct {
			at  time.Time
			pod string
		}
		var answers []answer
		stop := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				start := time.Now()
				body, err := get(client, clusterURL)
				if err != nil {
					done <- err
					return
				}
				answers = append(answers, answer{start, podOf(body)})
			}
		}()
		time.Sleep(200 * time.Millisecond) // some traffic before
		marked := time.Now()
		if err := os.WriteFile(filepath.Join(flags, victim.Name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var unready time.Time
		deadline := time.Now().Add(15 * time.Second)
		for unready.IsZero() && time.Now().Before(deadline) {
			if !c.endpointReady("hello", victim.Status.PodIP) {
				unready = time.Now()
			}
			time.Sleep(20 * time.Millisecond)
		}
		if unready.IsZero() {
			close(stop)
			t.Fatalf("the EndpointSlice still has %s ready 15s after its /healthz started failing", victim.Name)
		}
		time.Sleep(2 * time.Second)
		close(stop)
		if err := <-done; err != nil {
			t.Fatalf("a request failed while an endpoint turned unready: %v", err)
		}
		var last time.Time
		after := 0
		for _, a := range answers {
			if a.pod == victim.Name {
				last = a.at
			}
			if a.at.After(unready) {
				after++
			}
		}
		t.Logf("%d requests; %s marked unhealthy, EndpointSlice not ready after %s; its last request started %s after that (%d requests since, none to it)",
			len(answers), victim.Name, unready.Sub(marked).Round(time.Millisecond), last.Sub(unready).Round(time.Millisecond), after)
		if last.Sub(unready) > time.Second {
			t.Errorf("%s still got requests %s after its endpoint turned not ready, want < 1s", victim.Name, last.Sub(unready))
		}
		if after < 10 {
			t.Errorf("only %d requests answered after the endpoint turned unready", after)
		}
		if err := os.Remove(filepath.Join(flags, victim.Name)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a Service without endpoints refuses connections at once", func(t *testing.T) {
		scale, err := c.Admin.AppsV1().Deployments("default").GetScale(context.Background(), "hello", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		scale.Spec.Replicas = 0
		if _, err := c.Admin.AppsV1().Deployments("default").UpdateScale(context.Background(), "hello", scale, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.waitEndpoints("hello", 0)
		empty := time.Now()
		targets := []string{net.JoinHostPort(svc.Spec.ClusterIP, "80"), net.JoinHostPort(b.ip, fmt.Sprint(svc.Spec.Ports[0].NodePort))}
		for _, target := range targets {
			var took time.Duration
			var err error
			for time.Since(empty) < 3*time.Second {
				start := time.Now()
				var conn net.Conn
				conn, err = a.ns.DialContext(context.Background(), "tcp", target)
				took = time.Since(start)
				if conn != nil {
					conn.Close()
				}
				if errors.Is(err, syscall.ECONNREFUSED) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dialing %s with no endpoints: %v, want connection refused", target, err)
			}
			t.Logf("dialing %s with no endpoints: refused in %s, %s after the slice emptied", target, took.Round(time.Microsecond), time.Since(empty).Round(time.Millisecond))
			if took > 100*time.Millisecond {
				t.Errorf("refusing %s took %s, want at once", target, took)
			}
		}
	})

	t.Run("an agent whose DNS port is taken runs without cluster DNS", func(t *testing.T) {
		b.stop()
		var taken net.PacketConn
		if err := b.ns.Do(func() error {
			var err error
			taken, err = net.ListenPacket("udp", net.JoinHostPort(b.ip, "53"))
			return err
		}); err != nil {
			t.Fatalf("taking port 53 in %s: %v", b.node, err)
		}
		defer taken.Close()
		if err := b.start(); err != nil {
			t.Fatal(err)
		}
		log, _ := os.ReadFile(b.log)
		if !strings.Contains(string(log), "cluster DNS not served") {
			t.Errorf("the log of %s does not say that the cluster DNS is not served", b.node)
		}
		client := c.busyboxOn(b)
		out, code, _, err := b.exec(client, 5*time.Second, "cat", "/etc/resolv.conf")
		if err != nil || code != 0 {
			t.Fatalf("reading resolv.conf in a pod on %s: exit %d %q %v", b.node, code, out, err)
		}
		if strings.Contains(out, b.ip) {
			t.Errorf("a pod on %s, whose agent serves no DNS, is told to ask %s:\n%s", b.node, b.ip, out)
		}
	})
}

// timed runs the shell command cmd in the pod under busybox's time and
// returns its output, exit code and the time it took in the pod (10 ms
// resolution: no exec in the figure).
func (h *host) timed(p *corev1.Pod, cmd string) (string, int32, time.Duration, error) {
	out, code, _, err := h.exec(p, 10*time.Second, "sh", "-c", "time "+cmd)
	if err != nil {
		return out, code, 0, err
	}
	m := regexp.MustCompile(`real\s+(\d+)m\s*([0-9.]+)s`).FindStringSubmatch(out)
	if m == nil {
		return out, code, 0, fmt.Errorf("no time in the output of %q: %q", cmd, out)
	}
	minutes, _ := strconv.Atoi(m[1])
	seconds, _ := strconv.ParseFloat(m[2], 64)
	return out, code, time.Duration(minutes)*time.Minute + time.Duration(seconds*float64(time.Second)), nil
}

// httpFrom sends GET / to host:port from inside the pod (busybox nc: the
// static busybox's wget crashes without the environment of a shell).
func (h *host) httpFrom(p *corev1.Pod, host string, port int) (string, int32, time.Duration, error) {
	return h.exec(p, 5*time.Second, "sh", "-c", fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 %s %d`, host, port))
}

// createHello creates the Deployment hello: three pods spread over the
// nodes, ready while flags/<pod name> does not exist.
func (c *cluster) createHello(flags string) {
	labels := map[string]string{"app": "hello"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64(1)),
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelHostname,
						WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}},
					Volumes: []corev1.Volume{{Name: "flags", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: flags}}}},
					Containers: []corev1.Container{{
						Name: "hello", Image: hello, ImagePullPolicy: corev1.PullIfNotPresent,
						Env: []corev1.EnvVar{
							{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
							{Name: "UNHEALTHY_FILE", Value: "/flags/$(POD_NAME)"},
						},
						Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						VolumeMounts: []corev1.VolumeMount{{Name: "flags", MountPath: "/flags"}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
							PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1,
						},
					}},
				},
			},
		},
	}
	if _, err := c.Admin.AppsV1().Deployments("default").Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// service creates a ClusterIP Service in front of the pods labelled app
// (port 80 to their port named http), changed by edit when not nil.
func (c *cluster) service(name, app string, edit func(*corev1.ServiceSpec)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
	if edit != nil {
		edit(&svc.Spec)
	}
	out, err := c.Admin.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// slices are the EndpointSlices of a Service.
func (c *cluster) slices(service string) []discoveryv1.EndpointSlice {
	list, err := c.Admin.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		c.t.Fatal(err)
	}
	return list.Items
}

// endpointReady says whether ip is a ready endpoint of service.
func (c *cluster) endpointReady(service, ip string) bool {
	for _, s := range c.slices(service) {
		for _, ep := range s.Endpoints {
			if slices.Contains(ep.Addresses, ip) {
				return ep.Conditions.Ready == nil || *ep.Conditions.Ready
			}
		}
	}
	return false
}

// waitEndpoints waits until the Service has exactly n endpoints, all
// ready, and returns their pods.
func (c *cluster) waitEndpoints(service string, n int) []*corev1.Pod {
	c.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last []string
	for time.Now().Before(deadline) {
		var pods []*corev1.Pod
		last = nil
		ok := true
		for _, s := range c.slices(service) {
			for _, ep := range s.Endpoints {
				last = append(last, fmt.Sprintf("%v ready=%v", ep.Addresses, ep.Conditions.Ready != nil && *ep.Conditions.Ready))
				if ep.Conditions.Ready == nil || !*ep.Conditions.Ready || ep.TargetRef == nil {
					ok = false
					continue
				}
				p, err := c.Admin.CoreV1().Pods("default").Get(context.Background(), ep.TargetRef.Name, metav1.GetOptions{})
				if err != nil {
					ok = false
					continue
				}
				pods = append(pods, p)
			}
		}
		if ok && len(pods) == n {
			slices.SortFunc(pods, func(x, y *corev1.Pod) int { return strings.Compare(x.Name, y.Name) })
			return pods
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("Service %s has endpoints %v after 90s, want %d ready", service, last, n)
	return nil
}

// waitAnswer waits until url answers from inside ns (the proxy synced).
func (c *cluster) waitAnswer(ns *nettest.Netns, url string) {
	c.t.Helper()
	client := ns.HTTPClient(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if _, err = get(client, url); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("%s does not answer from %s: %v", url, ns.Name, err)
}

// podCIDR is the pod CIDR node IPAM gave a node.
func (c *cluster) podCIDR(node string) string {
	n, err := c.Admin.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return n.Spec.PodCIDR
}

// podsOn names the pods of the list that run on node.
func (c *cluster) podsOn(pods []*corev1.Pod, node string) []string {
	var out []string
	for _, p := range pods {
		if p.Spec.NodeName == node {
			out = append(out, p.Name)
		}
	}
	if len(out) == 0 {
		c.t.Fatalf("no pod of %v runs on %s", names(pods), node)
	}
	return out
}

// busyboxOn runs (once) a busybox pod on h to exec in; it serves its
// greeting on port 8080 (labelled app=<its name>).
func (c *cluster) busyboxOn(h *host) *corev1.Pod {
	c.t.Helper()
	name := "client-" + h.node
	pod, err := c.Admin.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		pod = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{
				NodeName: h.node, TerminationGracePeriodSeconds: new(int64(1)),
				Containers: []corev1.Container{{Name: "main", Image: busybox, ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"sh", "-c", `mkdir -p /tmp/www && echo "hello from $(hostname) (busybox)" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`},
					Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}},
			},
		}
		if _, err := c.Admin.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			c.t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		pod, err = c.Admin.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && pod.Status.Phase == corev1.PodRunning && len(pod.Status.ContainerStatuses) > 0 && pod.Status.ContainerStatuses[0].ContainerID != "" {
			return pod
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("pod %s not running after 60s: %v", name, pod.Status)
	return nil
}

// get fetches url and returns the body; anything but 200 is an error.
func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// podOf is the pod name in hello's greeting "hello from <pod> (version
// v)", wherever it is in the output.
func podOf(body string) string {
	_, rest, ok := strings.Cut(body, "hello from ")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, " ")
	return name
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}
