package server

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-io/berth/agents/kubelet/logs"
	"github.com/berth-io/berth/store/admission"
	"github.com/berth-io/berth/store/apiserver"
	"github.com/berth-io/berth/store/pki"
)

// KubeletClientUser is the identity (client certificate common name) the
// API server presents to node agents when it reads container logs; agents
// accept only this user, with a certificate signed by the cluster CA.
const KubeletClientUser = logs.APIServerClientUser

// DefaultKubeletPort is the agent port used when a Node does not report
// status.daemonEndpoints.kubeletEndpoint.port.
const DefaultKubeletPort = 10250

// DefaultContainerAnnotation names the container `kubectl logs` reads when
// a pod has several and none is given.
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

var (
	podsResource  = corev1.SchemeGroupVersion.WithResource("pods")
	nodesResource = corev1.SchemeGroupVersion.WithResource("nodes")
	podLogsGR     = schema.GroupResource{Resource: "pods/log"}
)

// podLogs answers GET pods/log by streaming the log from the agent of the
// pod's node over HTTPS: the agent's serving certificate is verified with
// the cluster CA and the API server authenticates as KubeletClientUser.
type podLogs struct {
	get admission.Lookup
	// client verifies agents; insecure does not, for
	// insecureSkipTLSVerifyBackend.
	client, insecure *http.Client
	log              *slog.Logger
}

// newPodLogs issues the API server's kubelet client certificate and
// returns the pods/log handler.
func newPodLogs(get admission.Lookup, p *pki.PKI, log *slog.Logger) (*podLogs, error) {
	certPEM, keyPEM, err := p.IssueClientCert(KubeletClientUser, nil, 365*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	transport := func(verify bool) *http.Client {
		return &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{
				MinVersion:         tls.VersionTLS12,
				RootCAs:            p.CAPool(),
				Certificates:       []tls.Certificate{pair},
				InsecureSkipVerify: !verify, //nolint:gosec // only on the caller's explicit insecureSkipTLSVerifyBackend
			},
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
		}}
	}
	return &podLogs{get: get, client: transport(true), insecure: transport(false), log: log}, nil
}

// ServeHTTP answers GET /api/v1/namespaces/{ns}/pods/{name}/log; the API
// server has authorized the request for get pods/log.
func (h *podLogs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeAPIStatus(w, apierrors.NewMethodNotSupported(podLogsGR, strings.ToLower(r.Method)))
		return
	}
	info := apiserver.ParseRequestInfo(r)
	target, client, err := h.locate(r, info.Namespace, info.Name)
	if err != nil {
		writeAPIStatus(w, err)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target.String(), nil)
	if err != nil {
		writeAPIStatus(w, apierrors.NewInternalError(err))
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		writeAPIStatus(w, apierrors.NewInternalError(err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		writeAPIStatus(w, agentError(resp, info.Name))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // a followed log may stay empty for a while: the client has its answer now
	}
	if err := copyFlushing(w, resp.Body); err != nil && r.Context().Err() == nil {
		h.log.Debug("streaming a pod log", "pod", info.Namespace+"/"+info.Name, "err", err)
	}
}

// locate validates the options, finds the pod's container and node, and
// returns the agent URL to read the log from and the client to use.
func (h *podLogs) locate(r *http.Request, namespace, name string) (*url.URL, *http.Client, error) {
	opts, errs := logs.ParseOptions(r.URL.Query())
	if len(errs) > 0 {
		return nil, nil, apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, name, errs)
	}
	obj, err := h.get(r.Context(), podsResource, namespace, name)
	if err != nil {
		return nil, nil, err
	}
	pod := obj.(*corev1.Pod)
	container, err := logContainer(pod, opts.Container)
	if err != nil {
		return nil, nil, err
	}
	if pod.Spec.NodeName == "" {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	obj, err = h.get(r.Context(), nodesResource, "", pod.Spec.NodeName)
	if err != nil {
		return nil, nil, err
	}
	host, port, err := agentAddress(obj.(*corev1.Node))
	if err != nil {
		return nil, nil, err
	}
	u := &url.URL{
		Scheme:   "https",
		Host:     net.JoinHostPort(host, strconv.Itoa(port)),
		Path:     logs.PathPrefix + url.PathEscape(namespace) + "/" + url.PathEscape(name) + "/" + url.PathEscape(container),
		RawQuery: logs.Query(opts).Encode(),
	}
	if opts.InsecureSkipTLSVerifyBackend {
		return u, h.insecure, nil
	}
	return u, h.client, nil
}

// agentError turns an agent's error answer into an API error as
// kube-apiserver does: the agent's text is the message of a 500 or a 400,
// other codes keep their generic message and carry the text as a cause.
func agentError(resp *http.Response, name string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	text := strings.TrimSpace(string(body))
	switch resp.StatusCode {
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(errors.New(text))
	case http.StatusBadRequest:
		return apierrors.NewBadRequest(text)
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, "get", podLogsGR, name, text, 0, false)
}

// logContainer picks the container to read as kube-apiserver does: the
// named one, else the only one, else the default-container annotation.
func logContainer(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	var others []string
	for _, c := range pod.Spec.InitContainers {
		others = append(others, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		others = append(others, c.Name)
	}
	if name == "" {
		switch {
		case len(names) == 1:
			return names[0], nil
		case pod.Annotations[DefaultContainerAnnotation] != "" && slices.Contains(names, pod.Annotations[DefaultContainerAnnotation]):
			return pod.Annotations[DefaultContainerAnnotation], nil
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, names)
		if len(others) > 0 {
			msg += fmt.Sprintf(" or one of the init or ephemeral containers: %v", others)
		}
		return "", apierrors.NewBadRequest(msg)
	}
	if slices.Contains(names, name) || slices.Contains(others, name) {
		return name, nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// agentAddress is where a node's agent listens: its InternalIP (else its
// Hostname, else its ExternalIP) and its kubelet endpoint port.
func agentAddress(node *corev1.Node) (string, int, error) {
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		port = DefaultKubeletPort
	}
	for _, kind := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName, corev1.NodeExternalIP} {
		for _, a := range node.Status.Addresses {
			if a.Type == kind && a.Address != "" {
				return a.Address, port, nil
			}
		}
	}
	return "", 0, apierrors.NewBadRequest(fmt.Sprintf("node %s reports no address (status.addresses has no InternalIP, Hostname or ExternalIP); is its agent running?", node.Name))
}

// copyFlushing copies a streamed body, flushing after every read so that
// followed lines reach the client as they arrive.
func copyFlushing(w http.ResponseWriter, body io.Reader) error {
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// writeAPIStatus answers with err as a metav1.Status in JSON.
func writeAPIStatus(w http.ResponseWriter, err error) {
	var apiErr apierrors.APIStatus
	if !errors.As(err, &apiErr) {
		apiErr = apierrors.NewInternalError(err)
	}
	st := apiErr.Status()
	st.Kind, st.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(st)
}
