package runtime

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/nettest"
)

// A pod reaches a host outside the cluster that has no route back to the
// pod CIDR: only the masquerade rule (the node's address as the source)
// lets the answer come back, and the host sees the node, not the pod.
func TestPodTrafficLeavingTheClusterIsMasqueraded(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	if err := EnsureBusyboxImage(ctx, n.c.Address(), DefaultBusyboxImage); err != nil {
		t.Fatal(err)
	}
	outside := nettest.New(t, "berth-out")
	link := netip.MustParsePrefix(freePodCIDR(t))
	nodeAddr := link.Addr().Next()
	outsideAddr := nodeAddr.Next()
	id := randomHex(3)
	dev, peerDev := "bo"+id, "bp"+id
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: dev}, PeerName: peerDev}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(veth) })
	peer, err := netlink.LinkByName(peerDev)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetNsFd(peer, outside.Fd()); err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr(netip.PrefixFrom(nodeAddr, link.Bits()).String())
	if err := netlink.AddrAdd(veth, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	if err := outside.AddAddr(peerDev, netip.PrefixFrom(outsideAddr, link.Bits()).String()); err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 1)
	l := outside.Serve(t, net.JoinHostPort(outsideAddr.String(), "8080"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		select {
		case seen <- host:
		default:
		}
		fmt.Fprintf(w, "peer=%s\n", host)
	}))
	sandbox, sandboxCfg := n.sandbox(t, "egress")
	ctr := n.container(t, sandbox, sandboxCfg, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "nc"},
		Image:    &runtimeapi.ImageSpec{Image: DefaultBusyboxImage},
		// busybox's static wget crashes in glibc's resolver; nc does not.
		Command: []string{"sh", "-c", fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 %s %s`, outsideAddr, "8080")},
		LogPath: "nc.log",
		Linux:   &runtimeapi.LinuxContainerConfig{},
	})
	status := waitExited(t, n, ctr, 15*time.Second)
	logs, _ := os.ReadFile(status.LogPath)
	if status.ExitCode != 0 {
		t.Fatalf("nc from the pod to %s exited %d: %s", l.Addr(), status.ExitCode, logs)
	}
	if got := <-seen; got != nodeAddr.String() {
		t.Errorf("the outside host saw the pod's traffic from %s, want the node's address %s", got, nodeAddr)
	}
	if !strings.Contains(string(logs), "peer="+nodeAddr.String()) {
		t.Errorf("pod's nc output %q lacks peer=%s", logs, nodeAddr)
	}
}

// waitExited waits until container id has exited and returns its status.
func waitExited(t *testing.T, n *node, id string, timeout time.Duration) *runtimeapi.ContainerStatus {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		resp, err := n.rs.ContainerStatus(context.Background(), &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			return resp.Status
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s still %s after %s", id, resp.Status.State, timeout)
		}
	}
}
