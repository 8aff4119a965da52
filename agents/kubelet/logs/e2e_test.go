package logs_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-io/berth/agents/kubelet/logs"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// agent is a logs.Server on a loopback HTTPS port with a Node pointing at
// it, and the containers it pretends to run.
type agent struct {
	t      testing.TB
	ts     *servertest.Server
	root   string
	node   string
	addr   string
	caPool *x509.CertPool

	active atomic.Int64 // requests being served

	mu         sync.Mutex
	containers map[string]logs.Container // by ns/pod/container
}

func (a *agent) lookup(ns, pod, container string) (logs.Container, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.containers[ns+"/"+pod+"/"+container]
	if !ok {
		return logs.Container{}, logs.ErrNotFound
	}
	return c, nil
}

func (a *agent) set(ns, pod, container string, c logs.Container) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.containers[ns+"/"+pod+"/"+container] = c
}

// startAgent serves container logs as node name, with a serving
// certificate for 127.0.0.1 signed by the cluster CA.
func startAgent(t testing.TB, ts *servertest.Server, name string) *agent {
	t.Helper()
	return startAgentWith(t, ts, name, servingCert(t, ts))
}

// startAgentWith serves with the given serving certificate.
func startAgentWith(t testing.TB, ts *servertest.Server, name string, cert tls.Certificate) *agent {
	t.Helper()
	a := &agent{t: t, ts: ts, root: t.TempDir(), node: name, caPool: ts.PKI.CAPool(), containers: map[string]logs.Container{}}
	srv, err := logs.NewServer(logs.Config{Root: a.root, ClientCA: a.caPool, Lookup: a.lookup})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.addr = l.Addr().String()
	// Count the requests in progress, to see streams end.
	hs := &http.Server{TLSConfig: logs.TLSConfig(cert, a.caPool), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.active.Add(1)
		defer a.active.Add(-1)
		srv.ServeHTTP(w, r)
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("agent: %v", err)
		}
	}()
	t.Cleanup(func() { _ = hs.Close(); <-done })

	port, _ := strconv.Atoi(strings.Split(a.addr, ":")[1])
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	c := ts.Admin.CoreV1().Nodes()
	created, err := c.Create(context.Background(), node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "localhost"}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	created.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := c.UpdateStatus(context.Background(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return a
}

// servingCert is a serving certificate for 127.0.0.1 from the cluster CA,
// as node credentials carry.
func servingCert(t testing.TB, ts *servertest.Server) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := ts.PKI.IssueServingCert("system:node:test", []string{server.NodesGroup}, []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// pod creates a pod bound to the agent's node (or unscheduled when node is
// empty) with the given containers.
func (a *agent) pod(ns, name, node string, annotations map[string]string, containers ...string) *corev1.Pod {
	a.t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}, Spec: corev1.PodSpec{NodeName: node}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	created, err := a.ts.Admin.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		a.t.Fatal(err)
	}
	return created
}

// write appends CRI records to a container's log for run restart.
func (a *agent) write(ns, pod string, uid types.UID, container string, restart int, lines ...string) {
	a.t.Helper()
	path := filepath.Join(logs.PodDir(a.root, ns, pod, uid), logs.ContainerFile(container, restart))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		a.t.Fatal(err)
	}
	var b []byte
	for _, l := range lines {
		b = logs.AppendRecord(b, logs.Record{Time: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), Stream: logs.Stdout, Content: []byte(l)})
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		a.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		a.t.Fatal(err)
	}
}

func getLogs(t *testing.T, c kubernetes.Interface, ns, pod string, opts *corev1.PodLogOptions) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := c.CoreV1().Pods(ns).GetLogs(pod, opts).Stream(ctx) // as kubectl logs
	if err != nil {
		return "", err
	}
	defer stream.Close()
	body, err := io.ReadAll(stream)
	return string(body), err
}

func ptr[T any](v T) *T { return &v }

func TestLogsThroughTheAPIServer(t *testing.T) {
	ts := servertest.Start(t)
	ts.Namespace("logs")
	a := startAgent(t, ts, "node-1")
	web := a.pod("logs", "web", "node-1", nil, "app")
	a.set("logs", "web", "app", logs.Container{PodUID: web.UID, RestartCount: 1, Running: true})
	a.write("logs", "web", web.UID, "app", 0, "first run 1", "first run 2")
	a.write("logs", "web", web.UID, "app", 1, "one", "two", "three")

	cases := []struct {
		name string
		opts corev1.PodLogOptions
		want string
	}{
		{"whole log", corev1.PodLogOptions{}, "one\ntwo\nthree\n"},
		{"named container", corev1.PodLogOptions{Container: "app"}, "one\ntwo\nthree\n"},
		{"tailLines", corev1.PodLogOptions{TailLines: ptr(int64(2))}, "two\nthree\n"},
		{"timestamps", corev1.PodLogOptions{TailLines: ptr(int64(1)), Timestamps: true}, "2026-11-26T08:00:00.000000000Z three\n"},
		{"previous", corev1.PodLogOptions{Previous: true}, "first run 1\nfirst run 2\n"},
		{"limitBytes", corev1.PodLogOptions{LimitBytes: ptr(int64(5))}, "one\nt"},
		{"sinceSeconds excludes old lines", corev1.PodLogOptions{SinceSeconds: ptr(int64(60))}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := getLogs(t, ts.Admin, "logs", "web", &c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestFollowThroughTheAPIServer(t *testing.T) {
	ts := servertest.Start(t)
	ts.Namespace("logs")
	a := startAgent(t, ts, "node-1")
	web := a.pod("logs", "web", "node-1", nil, "app")
	a.set("logs", "web", "app", logs.Container{PodUID: web.UID, Running: true})
	a.write("logs", "web", web.UID, "app", 0, "before")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := ts.Admin.CoreV1().Pods("logs").GetLogs("web", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	r := bufio.NewReader(stream)
	expect := func(want string) {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil || line != want+"\n" {
			t.Fatalf("read %q (%v), want %q", line, err, want)
		}
	}
	expect("before")
	// A follow with nothing to show yet still answers at once.
	quiet, err := ts.Admin.CoreV1().Pods("logs").GetLogs("web", &corev1.PodLogOptions{Follow: true, TailLines: ptr(int64(0))}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	for i := range 5 {
		line := "line " + strconv.Itoa(i)
		a.write("logs", "web", web.UID, "app", 0, line)
		expect(line) // each line arrives while the stream stays open
	}
	if line, err := bufio.NewReader(quiet).ReadString('\n'); err != nil || line != "line 0\n" {
		t.Fatalf("the follow that started empty read %q (%v), want the first appended line", line, err)
	}
	a.write("logs", "web", web.UID, "app", 0, "last words")
	a.set("logs", "web", "app", logs.Container{PodUID: web.UID, Running: false})
	expect("last words")
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Fatalf("after the container stopped: %q, %v; want the stream to end", rest, err)
	}
}

func TestLogErrors(t *testing.T) {
	ts := servertest.Start(t)
	ts.Namespace("logs")
	a := startAgent(t, ts, "node-1")
	a.pod("logs", "pending", "", nil, "app")
	two := a.pod("logs", "two", "node-1", nil, "main", "sidecar")
	annotated := a.pod("logs", "annotated", "node-1", map[string]string{server.DefaultContainerAnnotation: "sidecar"}, "main", "sidecar")
	fresh := a.pod("logs", "fresh", "node-1", nil, "app")
	a.set("logs", "annotated", "sidecar", logs.Container{PodUID: annotated.UID, Running: true})
	a.write("logs", "annotated", annotated.UID, "sidecar", 0, "from the sidecar")
	a.set("logs", "fresh", "app", logs.Container{PodUID: fresh.UID, Running: true})
	a.write("logs", "fresh", fresh.UID, "app", 0, "hi")
	_ = two

	if got, err := getLogs(t, ts.Admin, "logs", "annotated", &corev1.PodLogOptions{}); err != nil || got != "from the sidecar\n" {
		t.Errorf("default-container annotation: %q, %v", got, err)
	}
	cases := []struct {
		name  string
		pod   string
		opts  corev1.PodLogOptions
		check func(error) bool
		msg   string
	}{
		{"unscheduled", "pending", corev1.PodLogOptions{}, apierrors.IsBadRequest, "pod pending does not have a host assigned"},
		{"several containers", "two", corev1.PodLogOptions{}, apierrors.IsBadRequest, "a container name must be specified for pod two, choose one of: [main sidecar]"},
		{"unknown container", "two", corev1.PodLogOptions{Container: "nope"}, apierrors.IsBadRequest, "container nope is not valid for pod two"},
		{"missing pod", "ghost", corev1.PodLogOptions{}, apierrors.IsNotFound, `pods "ghost" not found`},
		{"negative tail", "fresh", corev1.PodLogOptions{TailLines: ptr(int64(-1))}, apierrors.IsInvalid, "tailLines"},
		{"no previous run", "fresh", corev1.PodLogOptions{Previous: true}, apierrors.IsBadRequest, `previous terminated container "app" in pod "fresh" not found`},
		{"container the agent does not run", "two", corev1.PodLogOptions{Container: "main"}, apierrors.IsNotFound, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := getLogs(t, ts.Admin, "logs", c.pod, &c.opts)
			if err == nil || !c.check(err) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("got %v, want an error like %q", err, c.msg)
			}
		})
	}

	t.Run("RBAC applies", func(t *testing.T) {
		_, err := getLogs(t, ts.ClientAs("nobody"), "logs", "fresh", &corev1.PodLogOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("got %v, want forbidden", err)
		}
	})
	t.Run("node without an agent", func(t *testing.T) {
		if _, err := ts.Admin.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gone"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		a.pod("logs", "orphan", "gone", nil, "app")
		_, err := getLogs(t, ts.Admin, "logs", "orphan", &corev1.PodLogOptions{})
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "reports no address") {
			t.Errorf("got %v, want a bad request naming the missing address", err)
		}
	})
}

// TestAgentRefusesOtherCallers calls the agent endpoint directly: without
// a client certificate, with one from another CA, and as a user other
// than the API server's.
func TestAgentRefusesOtherCallers(t *testing.T) {
	ts := servertest.Start(t)
	ts.Namespace("logs")
	a := startAgent(t, ts, "node-1")
	web := a.pod("logs", "web", "node-1", nil, "app")
	a.set("logs", "web", "app", logs.Container{PodUID: web.UID, Running: true})
	a.write("logs", "web", web.UID, "app", 0, "secret")

	callPath := func(path string, certs ...tls.Certificate) (int, string) {
		t.Helper()
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.caPool, Certificates: certs}}}
		resp, err := client.Get("https://" + a.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	call := func(certs ...tls.Certificate) (int, string) {
		t.Helper()
		return callPath(logs.PathPrefix+"logs/web/app", certs...)
	}
	issue := func(user string) tls.Certificate {
		t.Helper()
		certPEM, keyPEM, err := ts.PKI.IssueClientCert(user, nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return pair
	}
	if code, body := call(); code != http.StatusUnauthorized || strings.Contains(body, "secret") {
		t.Errorf("without a certificate: %d %q, want 401", code, body)
	}
	if code, body := call(issue("admin")); code != http.StatusForbidden || strings.Contains(body, "secret") {
		t.Errorf("as admin: %d %q, want 403", code, body)
	}
	if code, body := call(issue(server.KubeletClientUser)); code != http.StatusOK || body != "secret\n" {
		t.Errorf("as the API server: %d %q, want the log", code, body)
	}
	if code, body := callPath(logs.PathPrefix+"logs/web/..", issue(server.KubeletClientUser)); code != http.StatusBadRequest {
		t.Errorf("a container name out of the pod's directory: %d %q, want 400", code, body)
	}
	// A certificate from another CA is refused in the handshake or by the handler.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: server.KubeletClientUser},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.caPool, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}}
	resp, err := client.Get("https://" + a.addr + logs.PathPrefix + "logs/web/app")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("with a certificate from another CA: %d %q, want 401", resp.StatusCode, body)
		}
	}
}

// TestAPIServerVerifiesTheAgent: an agent whose serving certificate is not
// from the cluster CA is not trusted, unless the caller asks for
// insecureSkipTLSVerifyBackend.
func TestAPIServerVerifiesTheAgent(t *testing.T) {
	ts := servertest.Start(t)
	ts.Namespace("logs")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "impostor"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	a := startAgentWith(t, ts, "node-1", tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})
	web := a.pod("logs", "web", "node-1", nil, "app")
	a.set("logs", "web", "app", logs.Container{PodUID: web.UID, Running: true})
	a.write("logs", "web", web.UID, "app", 0, "hello")
	if _, err := getLogs(t, ts.Admin, "logs", "web", &corev1.PodLogOptions{}); !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("agent with an untrusted certificate: %v, want an internal error about its certificate", err)
	}
	if got, err := getLogs(t, ts.Admin, "logs", "web", &corev1.PodLogOptions{InsecureSkipTLSVerifyBackend: true}); err != nil || got != "hello\n" {
		t.Errorf("with insecureSkipTLSVerifyBackend: %q, %v", got, err)
	}
}

// BenchmarkLogsThroughTheAPIServer measures `kubectl logs` throughput
// through the API server and the agent: a whole log of 100-byte lines, and
// lines appended while following (lines/s from the first write to the last
// line read), plus the latency of one followed line (append → read).
func BenchmarkLogsThroughTheAPIServer(b *testing.B) {
	ts := servertest.Start(b)
	ts.Namespace("logs")
	a := startAgent(b, ts, "node-1")
	web := a.pod("logs", "web", "node-1", nil, "app")
	a.set("logs", "web", "app", logs.Container{PodUID: web.UID, Running: true})
	line := strings.Repeat("x", 100)
	const n = 100_000
	batch := make([]string, 1000)
	for i := range batch {
		batch[i] = line
	}
	for range n / len(batch) {
		a.write("logs", "web", web.UID, "app", 0, batch...)
	}
	ctx := context.Background()

	b.Run("whole", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			stream, err := ts.Admin.CoreV1().Pods("logs").GetLogs("web", &corev1.PodLogOptions{}).Stream(ctx)
			if err != nil {
				b.Fatal(err)
			}
			got, err := io.Copy(io.Discard, stream)
			stream.Close()
			if err != nil || got != n*int64(len(line)+1) {
				b.Fatalf("read %d bytes (%v)", got, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "lines/s")
	})

	b.Run("follow", func(b *testing.B) {
		stream, err := ts.Admin.CoreV1().Pods("logs").GetLogs("web", &corev1.PodLogOptions{Follow: true, TailLines: ptr(int64(0))}).Stream(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer stream.Close()
		r := bufio.NewReaderSize(stream, 1<<20)
		const perOp = 10_000
		start := time.Now()
		for b.Loop() {
			go func() {
				for range perOp / 100 {
					a.write("logs", "web", web.UID, "app", 0, batch[:100]...)
				}
			}()
			for range perOp {
				if _, err := r.ReadSlice('\n'); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(perOp*b.N)/time.Since(start).Seconds(), "lines/s")
	})

	b.Run("follow-latency", func(b *testing.B) {
		stream, err := ts.Admin.CoreV1().Pods("logs").GetLogs("web", &corev1.PodLogOptions{Follow: true, TailLines: ptr(int64(0))}).Stream(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer stream.Close()
		r := bufio.NewReader(stream)
		var lat []time.Duration
		for b.Loop() {
			t0 := time.Now()
			a.write("logs", "web", web.UID, "app", 0, "ping")
			if _, err := r.ReadSlice('\n'); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	})
}

// TestFollowEnds: a follow ends when the container restarts (a newer log
// file appears before the agent's lookup sees it), and closing the stream
// ends the agent's side too.
func TestFollowEnds(t *testing.T) {
	ts := servertest.Start(t)
	ts.Namespace("logs")
	a := startAgent(t, ts, "node-1")
	web := a.pod("logs", "web", "node-1", nil, "app")
	a.set("logs", "web", "app", logs.Container{PodUID: web.UID, Running: true})
	a.write("logs", "web", web.UID, "app", 0, "run 0")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := ts.Admin.CoreV1().Pods("logs").GetLogs("web", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a.write("logs", "web", web.UID, "app", 1, "run 1")
	if got, err := io.ReadAll(stream); err != nil || string(got) != "run 0\n" {
		t.Fatalf("follow across a restart: %q, %v; want run 0's log, then the end", got, err)
	}
	stream.Close()

	a.set("logs", "web", "app", logs.Container{PodUID: web.UID, RestartCount: 1, Running: true})
	stream, err = ts.Admin.CoreV1().Pods("logs").GetLogs("web", &corev1.PodLogOptions{Follow: true, Container: "app"}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.active.Load() != 1 {
		t.Fatalf("%d requests at the agent, want the one follow", a.active.Load())
	}
	stream.Close()
	deadline := time.Now().Add(10 * time.Second)
	for a.active.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the agent still streams after the client closed the follow")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
