package routes

import (
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name, cidr, ip string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	return n
}

func route(dst, via string) Route {
	return Route{Dst: netip.MustParsePrefix(dst), Via: netip.MustParseAddr(via)}
}

func TestWant(t *testing.T) {
	gone := node("d", "10.244.3.0/24", "192.168.1.4")
	gone.DeletionTimestamp = &metav1.Time{}
	nodes := []*corev1.Node{
		node("self", "10.244.0.0/24", "192.168.1.1"),
		node("b", "10.244.2.0/24", "192.168.1.3"),
		node("a", "10.244.1.0/24", "192.168.1.2"),
		node("no-cidr", "", "192.168.1.5"),
		node("no-ip", "10.244.4.0/24", ""),
		node("v6", "fd00::/64", "fd00::1"),
		gone,
	}
	want := []Route{route("10.244.1.0/24", "192.168.1.2"), route("10.244.2.0/24", "192.168.1.3")}
	if got := Want("self", nodes); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestDiff(t *testing.T) {
	a, b := route("10.244.1.0/24", "192.168.1.2"), route("10.244.2.0/24", "192.168.1.3")
	moved := route("10.244.2.0/24", "192.168.1.9")
	cases := []struct {
		name             string
		want, have       []Route
		wantAdd, wantDel []Route
	}{
		{"nothing yet", []Route{a, b}, nil, []Route{a, b}, nil},
		{"in sync", []Route{a, b}, []Route{b, a}, nil, nil},
		{"node left", []Route{a}, []Route{a, b}, nil, []Route{b}},
		{"node moved", []Route{a, moved}, []Route{a, b}, []Route{moved}, []Route{b}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			add, del := Diff(c.want, c.have)
			if !reflect.DeepEqual(add, c.wantAdd) || !reflect.DeepEqual(del, c.wantDel) {
				t.Fatalf("add %v del %v, want add %v del %v", add, del, c.wantAdd, c.wantDel)
			}
		})
	}
}
