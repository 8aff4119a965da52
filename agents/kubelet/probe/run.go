package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ExecFunc runs cmd in a container and returns its exit code and combined
// output (the CRI ExecSync call). err is for failures to run the command
// at all, a timeout included; a command that ran and exited non-zero is not
// an error.
type ExecFunc func(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (exitCode int, output []byte, err error)

// UserAgent is the User-Agent of HTTP probes, as the kubelet sends it.
const UserAgent = "kube-probe/1.37"

// maxBody is how much of an HTTP probe's response body is read.
const maxBody = 10 << 10

// Runner runs one probe of one container once.
type Runner struct {
	// Exec runs exec probes; without it they fail.
	Exec ExecFunc
}

// Run runs p against container c (ID containerID) of a pod at podIP, giving
// up after timeout, and returns Success or Failure with a message saying
// why it failed.
func (r Runner) Run(ctx context.Context, p *corev1.Probe, c *corev1.Container, containerID, podIP string, timeout time.Duration) (Result, string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	switch h := p.ProbeHandler; {
	case h.Exec != nil:
		err = r.exec(ctx, containerID, h.Exec.Command, timeout)
	case h.HTTPGet != nil:
		err = httpGet(ctx, h.HTTPGet, c, podIP)
	case h.TCPSocket != nil:
		err = tcpSocket(ctx, h.TCPSocket, c, podIP)
	case h.GRPC != nil:
		err = grpcCheck(ctx, h.GRPC, podIP)
	default:
		err = errors.New("the probe has no handler (exec, httpGet, tcpSocket or grpc)")
	}
	if err != nil {
		return Failure, err.Error()
	}
	return Success, ""
}

func (r Runner) exec(ctx context.Context, containerID string, cmd []string, timeout time.Duration) error {
	if r.Exec == nil {
		return errors.New("exec probes are not supported by this runner")
	}
	code, out, err := r.Exec(ctx, containerID, cmd, timeout)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("command %q timed out after %v", cmd, timeout)
		}
		return fmt.Errorf("command %q: %w", cmd, err)
	}
	if code != 0 {
		return fmt.Errorf("command %q exited with %d: %s", cmd, code, truncate(out))
	}
	return nil
}

// URL builds an httpGet probe's URL: the host defaults to the pod IP and a
// named port is looked up in the container's ports.
func URL(h *corev1.HTTPGetAction, c *corev1.Container, podIP string) (*url.URL, error) {
	port, err := ResolvePort(h.Port, c)
	if err != nil {
		return nil, err
	}
	host, err := hostOr(h.Host, podIP)
	if err != nil {
		return nil, err
	}
	scheme := strings.ToLower(string(h.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("httpGet path %q: %w", h.Path, err)
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	return u, nil
}

// ResolvePort returns a probe's port number, looking a named port up in
// the container's ports.
func ResolvePort(port intstr.IntOrString, c *corev1.Container) (int, error) {
	if port.Type == intstr.Int {
		if port.IntVal <= 0 || port.IntVal > 65535 {
			return 0, fmt.Errorf("port %d is out of range 1-65535", port.IntVal)
		}
		return int(port.IntVal), nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil && n > 0 && n <= 65535 {
		return n, nil
	}
	return 0, fmt.Errorf("container %q has no port named %q", c.Name, port.StrVal)
}

func httpGet(ctx context.Context, h *corev1.HTTPGetAction, c *corev1.Container, podIP string) error {
	u, err := URL(h, c, podIP)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "*/*")
	for _, hdr := range h.HTTPHeaders {
		if strings.EqualFold(hdr.Name, "Host") {
			req.Host = hdr.Value
			continue
		}
		req.Header.Add(hdr.Name, hdr.Value)
	}
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes do not verify, as the kubelet's
			DisableKeepAlives: true,
			Proxy:             nil,
		},
		CheckRedirect: redirectOnSameHost,
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("GET %s: timed out", u)
		}
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusBadRequest {
		return fmt.Errorf("GET %s: HTTP probe failed with statuscode: %d: %s", u, resp.StatusCode, truncate(body))
	}
	return nil
}

// redirectOnSameHost follows at most 10 redirects on the same host; a
// redirect elsewhere ends the probe with the redirect's own status, which
// counts as success (the kubelet's rule).
func redirectOnSameHost(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	return nil
}

func tcpSocket(ctx context.Context, h *corev1.TCPSocketAction, c *corev1.Container, podIP string) error {
	port, err := ResolvePort(h.Port, c)
	if err != nil {
		return err
	}
	host, err := hostOr(h.Host, podIP)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial tcp %s: %w", addr, err)
	}
	return conn.Close()
}

func grpcCheck(ctx context.Context, h *corev1.GRPCAction, podIP string) error {
	host, err := hostOr("", podIP)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(h.Port)))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent(UserAgent))
	if err != nil {
		return fmt.Errorf("grpc %s: %w", addr, err)
	}
	defer conn.Close()
	service := ""
	if h.Service != nil {
		service = *h.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("grpc health check of %s (service %q): %w", addr, service, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("grpc service %q at %s is %s", service, addr, resp.GetStatus())
	}
	return nil
}

// hostOr is the probe's host, else the pod IP; a probe cannot run before
// the pod has an IP.
func hostOr(host, podIP string) (string, error) {
	switch {
	case host != "":
		return host, nil
	case podIP != "":
		return podIP, nil
	}
	return "", errors.New("the pod has no IP address yet and the probe names no host")
}

func truncate(b []byte) string {
	const n = 256
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
