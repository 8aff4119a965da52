package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultNetworkName and DefaultBridge name the node's pod network.
const (
	DefaultNetworkName = "berth"
	DefaultBridge      = "berth0"
)

// Network is the node's pod network as the CNI bridge plugin sets it up.
type Network struct {
	// Name is the CNI network name (default DefaultNetworkName); the CNI
	// plugins tag their iptables rules with it.
	Name string
	// Bridge is the Linux bridge pods attach to (default DefaultBridge; at
	// most 15 bytes).
	Bridge string
	// PodCIDR is the node's spec.podCIDR, e.g. 10.244.1.0/24.
	PodCIDR string
	// IPAMDir is where host-local records allocated addresses (Layout.IPAMDir).
	IPAMDir string
	// ClusterCIDR is the pod network of the whole cluster: EnsureMasquerade
	// masquerades pod traffic to addresses outside it (default: PodCIDR).
	// The conflist does not use it.
	ClusterCIDR string
}

// conflistName is the file WriteCNIConfig writes in the conf dir.
const conflistName = "10-berth.conflist"

// WriteCNIConfig writes the bridge+portmap conflist of n into dir (the
// Layout's CNIConfDir), replacing any earlier one atomically; an identical
// file is left alone. containerd's CRI plugin watches dir and uses it for
// the next pod (WaitNetworkReady waits for that).
func WriteCNIConfig(dir string, n Network) error {
	b, err := Conflist(n)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, conflistName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o644)
}

// Conflist renders the CNI network configuration list of n: a bridge with
// the pods' gateway and hairpin mode, host-local IPAM over the pod CIDR with
// a default route, and portmap for hostPorts. The bridge does not
// masquerade (its per-pod iptables chains serialise pod creation):
// EnsureMasquerade's one nftables rule does.
func Conflist(n Network) ([]byte, error) {
	if n.Name == "" {
		n.Name = DefaultNetworkName
	}
	if n.Bridge == "" {
		n.Bridge = DefaultBridge
	}
	if len(n.Bridge) > 15 || strings.ContainsAny(n.Bridge, "/ \t\n:") {
		return nil, fmt.Errorf("CNI bridge name %q: must be a Linux interface name of at most 15 bytes", n.Bridge)
	}
	prefix, err := netip.ParsePrefix(n.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", n.PodCIDR, err)
	}
	if prefix != prefix.Masked() {
		return nil, fmt.Errorf("pod CIDR %q has host bits set (did you mean %s?)", n.PodCIDR, prefix.Masked())
	}
	if n.IPAMDir == "" || !filepath.IsAbs(n.IPAMDir) {
		return nil, fmt.Errorf("CNI IPAM dir %q: must be an absolute path", n.IPAMDir)
	}
	defaultRoute := "0.0.0.0/0"
	if prefix.Addr().Is6() {
		defaultRoute = "::/0"
	}
	type obj = map[string]any
	list := obj{
		"cniVersion": "1.0.0",
		"name":       n.Name,
		"plugins": []obj{
			{
				"type":        "bridge",
				"bridge":      n.Bridge,
				"isGateway":   true,
				"ipMasq":      false,
				"hairpinMode": true,
				"ipam": obj{
					"type":    "host-local",
					"ranges":  [][]obj{{{"subnet": prefix.String()}}},
					"routes":  []obj{{"dst": defaultRoute}},
					"dataDir": n.IPAMDir,
				},
			},
			{"type": "portmap", "capabilities": obj{"portMappings": true}},
		},
	}
	return json.MarshalIndent(list, "", "  ")
}

// readNetworks returns the networks of the conflists in dir (for Cleanup).
func readNetworks(dir string) ([]Network, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.conflist"))
	if err != nil {
		return nil, err
	}
	var nets []Network
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var list struct {
			Name    string `json:"name"`
			Plugins []struct {
				Type   string `json:"type"`
				Bridge string `json:"bridge"`
			} `json:"plugins"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		n := Network{Name: list.Name}
		for _, p := range list.Plugins {
			if p.Type == "bridge" {
				n.Bridge = p.Bridge
				if n.Bridge == "" {
					n.Bridge = "cni0" // the bridge plugin's default
				}
			}
		}
		nets = append(nets, n)
	}
	return nets, nil
}

// WaitNetworkReady waits until the CRI plugin at address (a socket path)
// reports its pod network ready, i.e. it has loaded the conflist
// WriteCNIConfig wrote; a sandbox run before that fails.
func WaitNetworkReady(ctx context.Context, address string, timeout time.Duration) error {
	conn, err := DialCRI(address)
	if err != nil {
		return err
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)
	deadline := time.Now().Add(timeout)
	for {
		resp, err := rs.Status(ctx, &runtimeapi.StatusRequest{})
		last := fmt.Sprint(err)
		if err == nil {
			for _, c := range resp.GetStatus().GetConditions() {
				if c.Type == runtimeapi.NetworkReady {
					if c.Status {
						return nil
					}
					last = c.Reason + ": " + c.Message
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pod network of the runtime at %s not ready after %s: %s", address, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
