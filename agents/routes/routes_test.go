package routes

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"

	"github.com/berth-io/berth/store/servertest"
)

// TestControllerFollowsNodes programs a throwaway network namespace from
// real Node objects: routes appear for nodes that join, move with a node's
// address, leave with the node, and Cleanup removes berth's routes only.
func TestControllerFollowsNodes(t *testing.T) {
	h := testNamespace(t)
	api := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// A route that is not berth's must survive everything below.
	foreign := &netlink.Route{Dst: mustCIDR("10.99.0.0/24"), Gw: []byte{192, 168, 77, 50}}
	if err := h.RouteAdd(foreign); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*corev1.Node{node("self", "10.244.0.0/24", "192.168.77.1"), node("a", "10.244.1.0/24", "192.168.77.2")} {
		createNode(ctx, t, api, n)
	}
	factory := informers.NewSharedInformerFactory(api.Admin, 0)
	c, err := New(factory, Config{NodeName: "self", Netlink: h, Resync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go func() { _ = c.Run(ctx) }()
	waitRoutes(t, c, route("10.244.1.0/24", "192.168.77.2"))

	createNode(ctx, t, api, node("b", "10.244.2.0/24", "192.168.77.3"))
	waitRoutes(t, c, route("10.244.1.0/24", "192.168.77.2"), route("10.244.2.0/24", "192.168.77.3"))

	b, _ := api.Admin.CoreV1().Nodes().Get(ctx, "b", metav1.GetOptions{})
	b.Status.Addresses[1].Address = "192.168.77.4"
	if _, err := api.Admin.CoreV1().Nodes().UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, c, route("10.244.1.0/24", "192.168.77.2"), route("10.244.2.0/24", "192.168.77.4"))

	if err := api.Admin.CoreV1().Nodes().Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, c, route("10.244.2.0/24", "192.168.77.4"))

	// Someone deletes berth's route by hand: the next sync puts it back.
	if err := h.RouteDel(c.netlinkRoute(route("10.244.2.0/24", "192.168.77.4"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, c, route("10.244.2.0/24", "192.168.77.4"))

	cancel()
	if err := Cleanup(h); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, c)
	if list, _ := h.RouteListFiltered(netlink.FAMILY_V4, foreign, netlink.RT_FILTER_DST); len(list) != 1 {
		t.Fatalf("the foreign route is gone: %v", list)
	}
}

// TestSyncReportsAnUnreachableGateway checks that a node on another network
// gives an error naming the route, and the other routes are still made.
func TestSyncReportsAnUnreachableGateway(t *testing.T) {
	h := testNamespace(t)
	api := servertest.Start(t)
	ctx := context.Background()
	createNode(ctx, t, api, node("far", "10.244.5.0/24", "172.31.0.9"))
	createNode(ctx, t, api, node("near", "10.244.6.0/24", "192.168.77.6"))
	factory := informers.NewSharedInformerFactory(api.Admin, 0)
	c, err := New(factory, Config{NodeName: "self", Netlink: h})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	err = c.Sync()
	if err == nil || !strings.Contains(err.Error(), "10.244.5.0/24 via 172.31.0.9") {
		have, _ := c.installed()
		nodes, _ := c.nodes.List(labels.Everything())
		t.Fatalf("want an error naming the far node's route, got %v (routes %v, %d nodes cached)", err, have, len(nodes))
	}
	waitRoutes(t, c, route("10.244.6.0/24", "192.168.77.6"))
}

// testNamespace makes a network namespace with a veth link on
// 192.168.77.1/24 and returns a netlink handle inside it.
func testNamespace(t *testing.T) *netlink.Handle {
	t.Helper()
	name := fmt.Sprintf("berth-rt-%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	run(t, "ip", "-n", name, "addr", "add", "192.168.77.1/24", "dev", "v0")
	run(t, "ip", "-n", name, "link", "set", "v1", "up")
	run(t, "ip", "-n", name, "link", "set", "v0", "up")
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

func createNode(ctx context.Context, t *testing.T, api *servertest.Server, n *corev1.Node) {
	t.Helper()
	status := n.Status
	created, err := api.Admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = status
	if _, err := api.Admin.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitRoutes(t *testing.T, c *Controller, want ...Route) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		have, err := c.installed()
		if err == nil && (reflect.DeepEqual(have, want) || len(have) == 0 && len(want) == 0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("routes %v (err %v), want %v", have, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}
