package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConflistIsBridgeWithHostLocalAndPortmap(t *testing.T) {
	b, err := Conflist(Network{PodCIDR: "10.244.3.0/24", IPAMDir: "/var/lib/berth/agent/cni/ipam"})
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(`{"cniVersion":"1.0.0","name":"berth","plugins":[
		{"type":"bridge","bridge":"berth0","isGateway":true,"ipMasq":false,"hairpinMode":true,
		 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.3.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"/var/lib/berth/agent/cni/ipam"}},
		{"type":"portmap","capabilities":{"portMappings":true}}]}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("conflist:\n%s", b)
	}
}

func TestConflistRefusesBadNetworks(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    Network
		want string
	}{
		{"not a CIDR", Network{PodCIDR: "10.244.3.0", IPAMDir: "/x"}, "pod CIDR"},
		{"host bits", Network{PodCIDR: "10.244.3.7/24", IPAMDir: "/x"}, "did you mean 10.244.3.0/24"},
		{"long bridge", Network{Bridge: "a-very-long-bridge", PodCIDR: "10.244.3.0/24", IPAMDir: "/x"}, "at most 15"},
		{"relative IPAM dir", Network{PodCIDR: "10.244.3.0/24", IPAMDir: "ipam"}, "absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Conflist(tc.n)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Conflist(%+v) = %v, want an error with %q", tc.n, err, tc.want)
			}
		})
	}
}

func TestWriteCNIConfigReplacesAndCleanupReadsItBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net.d")
	for _, cidr := range []string{"10.244.1.0/24", "10.244.2.0/24"} {
		if err := WriteCNIConfig(dir, Network{Name: "n1", Bridge: "br-n1", PodCIDR: cidr, IPAMDir: "/ipam"}); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("conf dir holds %d files, want 1", len(entries))
	}
	b, _ := os.ReadFile(filepath.Join(dir, entries[0].Name()))
	if !strings.Contains(string(b), "10.244.2.0/24") {
		t.Errorf("conflist not replaced:\n%s", b)
	}
	before, _ := os.Stat(filepath.Join(dir, entries[0].Name()))
	if err := WriteCNIConfig(dir, Network{Name: "n1", Bridge: "br-n1", PodCIDR: "10.244.2.0/24", IPAMDir: "/ipam"}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(dir, entries[0].Name()))
	if !os.SameFile(before, after) {
		t.Error("an identical conflist was rewritten (containerd reloads on every write)")
	}
	nets, err := readNetworks(dir)
	if err != nil || len(nets) != 1 || nets[0].Name != "n1" || nets[0].Bridge != "br-n1" {
		t.Errorf("readNetworks = %+v, %v", nets, err)
	}
}
