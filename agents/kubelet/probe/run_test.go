package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// serverPort returns the loopback port of an httptest server.
func serverPort(t *testing.T, s *httptest.Server) int {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return port
}

func httpProbe(path string, port intstr.IntOrString, scheme corev1.URIScheme, headers ...corev1.HTTPHeader) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port, Scheme: scheme, HTTPHeaders: headers}}}
}

func TestHTTPGet(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/created", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "disk on fire", http.StatusInternalServerError)
	})
	mux.HandleFunc("/local-redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/broken", http.StatusFound) })
	mux.HandleFunc("/remote-redirect", func(w http.ResponseWriter, r *http.Request) {
		// A different host name for the same loopback: the redirect is not followed.
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1), http.StatusFound)
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Probe") != "yes" || r.Host != "example.test" || r.UserAgent() != UserAgent {
			w.WriteHeader(http.StatusTeapot)
		}
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("deep") != "1" {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(mux)
	defer tlsSrv.Close()
	port, tlsPort := serverPort(t, srv), serverPort(t, tlsSrv)
	c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	cases := []struct {
		name string
		p    *corev1.Probe
		want Result
		msg  string
	}{
		{"200", httpProbe("/ok", intstr.FromInt(port), ""), Success, ""},
		{"201", httpProbe("/created", intstr.FromInt(port), ""), Success, ""},
		{"named port", httpProbe("/ok", intstr.FromString("http"), ""), Success, ""},
		{"unknown named port", httpProbe("/ok", intstr.FromString("admin"), ""), Failure, `no port named "admin"`},
		{"path without slash", httpProbe("ok", intstr.FromInt(port), ""), Success, ""},
		{"path with query", httpProbe("/query?deep=1", intstr.FromInt(port), ""), Success, ""},
		{"404", httpProbe("/missing", intstr.FromInt(port), ""), Failure, "statuscode: 404"},
		{"500 with body", httpProbe("/broken", intstr.FromInt(port), ""), Failure, "disk on fire"},
		{"redirect on the same host is followed", httpProbe("/local-redirect", intstr.FromInt(port), ""), Failure, "statuscode: 500"},
		{"redirect to another host counts as success", httpProbe("/remote-redirect", intstr.FromInt(port), ""), Success, ""},
		{"headers and Host", httpProbe("/headers", intstr.FromInt(port), "", corev1.HTTPHeader{Name: "X-Probe", Value: "yes"}, corev1.HTTPHeader{Name: "Host", Value: "example.test"}), Success, ""},
		{"headers missing", httpProbe("/headers", intstr.FromInt(port), ""), Failure, "statuscode: 418"},
		{"https without verification", httpProbe("/ok", intstr.FromInt(tlsPort), corev1.URISchemeHTTPS), Success, ""},
		{"timeout", httpProbe("/slow", intstr.FromInt(port), ""), Failure, "timed out"},
		{"nothing listening", httpProbe("/ok", intstr.FromInt(closedPort(t)), ""), Failure, "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := Runner{}.Run(context.Background(), tc.p, c, "cid", "127.0.0.1", 200*time.Millisecond)
			if got != tc.want || !strings.Contains(msg, tc.msg) {
				t.Errorf("got %v %q, want %v containing %q", got, msg, tc.want, tc.msg)
			}
		})
	}
}

func TestHTTPGetHostOverridesPodIP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	p := httpProbe("/", intstr.FromInt(serverPort(t, srv)), "")
	p.HTTPGet.Host = "127.0.0.1"
	if got, msg := (Runner{}).Run(context.Background(), p, &corev1.Container{}, "cid", "192.0.2.1", time.Second); got != Success {
		t.Errorf("got %v %q, want success on the given host rather than the pod IP", got, msg)
	}
}

func TestNoPodIP(t *testing.T) {
	for _, p := range []*corev1.Probe{
		httpProbe("/", intstr.FromInt(80), ""),
		{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(80)}}},
		{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 80}}},
	} {
		if got, msg := (Runner{}).Run(context.Background(), p, &corev1.Container{}, "cid", "", time.Second); got != Failure || !strings.Contains(msg, "no IP address") {
			t.Errorf("%+v without a pod IP: %v %q", p.ProbeHandler, got, msg)
		}
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

func TestTCPSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	c := &corev1.Container{Name: "db", Ports: []corev1.ContainerPort{{Name: "sql", ContainerPort: int32(port)}}}
	tcp := func(port intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}}
	}
	for name, tc := range map[string]struct {
		p    *corev1.Probe
		want Result
	}{
		"open port":  {tcp(intstr.FromInt(port)), Success},
		"named port": {tcp(intstr.FromString("sql")), Success},
		"closed":     {tcp(intstr.FromInt(closedPort(t))), Failure},
	} {
		if got, msg := (Runner{}).Run(context.Background(), tc.p, c, "cid", "127.0.0.1", time.Second); got != tc.want {
			t.Errorf("%s: got %v %q, want %v", name, got, msg, tc.want)
		}
	}
}

func TestExec(t *testing.T) {
	exec := func(ctx context.Context, id string, cmd []string, timeout time.Duration) (int, []byte, error) {
		if id != "cid" {
			return 0, nil, errors.New("wrong container " + id)
		}
		switch cmd[0] {
		case "true":
			return 0, nil, nil
		case "false":
			return 1, []byte("not ready yet"), nil
		case "hang":
			<-ctx.Done()
			return 0, nil, ctx.Err()
		}
		return 0, nil, errors.New("exec failed: no such file")
	}
	r := Runner{Exec: exec}
	cases := []struct {
		cmd  string
		want Result
		msg  string
	}{
		{"true", Success, ""},
		{"false", Failure, "exited with 1: not ready yet"},
		{"hang", Failure, "timed out"},
		{"missing", Failure, "no such file"},
	}
	for _, tc := range cases {
		p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{tc.cmd}}}}
		got, msg := r.Run(context.Background(), p, &corev1.Container{}, "cid", "", 50*time.Millisecond)
		if got != tc.want || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: got %v %q, want %v containing %q", tc.cmd, got, msg, tc.want, tc.msg)
		}
	}
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	if got, _ := (Runner{}).Run(context.Background(), p, &corev1.Container{}, "cid", "", time.Second); got != Failure {
		t.Errorf("exec without an ExecFunc: got %v, want failure", got)
	}
}

func TestGRPC(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()
	port := int32(l.Addr().(*net.TCPAddr).Port)
	probe := func(port int32, service *string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port, Service: service}}}
	}
	db, unknown := "db", "nope"
	cases := []struct {
		name string
		p    *corev1.Probe
		want Result
	}{
		{"serving", probe(port, nil), Success},
		{"not serving", probe(port, &db), Failure},
		{"unknown service", probe(port, &unknown), Failure},
		{"nothing listening", probe(int32(closedPort(t)), nil), Failure},
	}
	for _, tc := range cases {
		if got, msg := (Runner{}).Run(context.Background(), tc.p, &corev1.Container{}, "cid", "127.0.0.1", time.Second); got != tc.want {
			t.Errorf("%s: got %v %q, want %v", tc.name, got, msg, tc.want)
		}
	}
}
