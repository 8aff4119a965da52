package node

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RuntimeVersion asks the CRI runtime rt for its version as
// status.nodeInfo.containerRuntimeVersion shows it ("containerd://1.6.20"):
// a Config.RuntimeVersion.
func RuntimeVersion(rt runtimeapi.RuntimeServiceClient) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		v, err := rt.Version(ctx, &runtimeapi.VersionRequest{})
		if err != nil {
			return "", fmt.Errorf("asking the container runtime for its version: %w", err)
		}
		return v.RuntimeName + "://" + v.RuntimeVersion, nil
	}
}

// RuntimeHealthy asks the CRI runtime rt for its status and says what is
// wrong, as kubelet does: the runtime does not answer, or its RuntimeReady
// or NetworkReady condition is not true (no CNI configuration yet, for
// example). A Config.RuntimeHealthy.
func RuntimeHealthy(rt runtimeapi.RuntimeServiceClient) func(context.Context) error {
	return func(ctx context.Context) error {
		resp, err := rt.Status(ctx, &runtimeapi.StatusRequest{})
		if err != nil {
			return fmt.Errorf("container runtime is down: %w", err)
		}
		if resp.Status == nil {
			return errors.New("container runtime status check may not have completed yet: it reported no status")
		}
		var problems []error
		for _, want := range []string{runtimeapi.RuntimeReady, runtimeapi.NetworkReady} {
			c := condition(resp.Status, want)
			switch {
			case c == nil:
				problems = append(problems, fmt.Errorf("container runtime reports no %s condition", want))
			case !c.Status && want == runtimeapi.NetworkReady:
				problems = append(problems, fmt.Errorf("container runtime network not ready: %s=false reason:%s message:%s", want, c.Reason, c.Message))
			case !c.Status:
				problems = append(problems, fmt.Errorf("container runtime not ready: %s=false reason:%s message:%s", want, c.Reason, c.Message))
			}
		}
		return errors.Join(problems...)
	}
}

func condition(st *runtimeapi.RuntimeStatus, kind string) *runtimeapi.RuntimeCondition {
	for _, c := range st.Conditions {
		if c.Type == kind {
			return c
		}
	}
	return nil
}

// DefaultRouteIP is the IPv4 address the machine sends from on its default
// route: the route's preferred source, or else the first global address of
// the route's interface. It is a node's InternalIP unless --node-ip names one.
func DefaultRouteIP() (string, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return "", fmt.Errorf("listing routes to find the node IP: %w (name it with --node-ip)", err)
	}
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		if r.Src != nil && r.Src.IsGlobalUnicast() {
			return r.Src.String(), nil
		}
		link, err := netlink.LinkByIndex(r.LinkIndex)
		if err != nil {
			continue
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if a.IP.IsGlobalUnicast() {
				return a.IP.String(), nil
			}
		}
	}
	return "", errors.New("no default route with an IPv4 address: name the node IP with --node-ip")
}

// validIPs checks that every entry of ips is an IP address.
func validIPs(ips []string) error {
	for _, ip := range ips {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("node IP %q is not an IP address", ip)
		}
	}
	return nil
}
