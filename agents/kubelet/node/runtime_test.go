package node

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeCRI answers Version and Status; every other call would panic.
type fakeCRI struct {
	runtimeapi.RuntimeServiceClient
	status *runtimeapi.StatusResponse
	err    error
}

func (f fakeCRI) Version(context.Context, *runtimeapi.VersionRequest, ...grpc.CallOption) (*runtimeapi.VersionResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &runtimeapi.VersionResponse{RuntimeName: "containerd", RuntimeVersion: "1.6.20", RuntimeApiVersion: "v1"}, nil
}

func (f fakeCRI) Status(context.Context, *runtimeapi.StatusRequest, ...grpc.CallOption) (*runtimeapi.StatusResponse, error) {
	return f.status, f.err
}

func status(runtimeReady, networkReady bool) *runtimeapi.StatusResponse {
	return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: runtimeReady},
		{Type: runtimeapi.NetworkReady, Status: networkReady, Reason: "NetworkPluginNotReady", Message: "cni plugin not initialized"},
	}}}
}

func TestRuntimeVersionReadsCRI(t *testing.T) {
	if v, err := RuntimeVersion(fakeCRI{})(context.Background()); err != nil || v != "containerd://1.6.20" {
		t.Errorf("RuntimeVersion = %q, %v; want containerd://1.6.20", v, err)
	}
	if _, err := RuntimeVersion(fakeCRI{err: errors.New("connection refused")})(context.Background()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("RuntimeVersion of a dead runtime: %v", err)
	}
}

func TestRuntimeHealthyFollowsCRIStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		cri  fakeCRI
		want string // "" for healthy, else part of the error
	}{
		{"ready", fakeCRI{status: status(true, true)}, ""},
		{"network not ready", fakeCRI{status: status(true, false)}, "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:cni plugin not initialized"},
		{"runtime not ready", fakeCRI{status: status(false, true)}, "container runtime not ready: RuntimeReady=false"},
		{"down", fakeCRI{err: errors.New("connection refused")}, "container runtime is down: connection refused"},
		{"no status", fakeCRI{status: &runtimeapi.StatusResponse{}}, "reported no status"},
		{"no conditions", fakeCRI{status: &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{}}}, "no RuntimeReady condition"},
	} {
		err := RuntimeHealthy(tc.cri)(context.Background())
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want healthy", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func TestDefaultRouteIPIsAnAddressOfThisMachine(t *testing.T) {
	ip, err := DefaultRouteIP()
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
			return
		}
	}
	t.Errorf("DefaultRouteIP = %s, not one of this machine's addresses %v", ip, addrs)
}
