package runtime

import (
	"strings"
	"testing"
)

func TestContainerdConfigKeepsEverythingUnderTheAgentDir(t *testing.T) {
	l := NewLayout("/var/lib/berth")
	b, err := containerdConfig(containerdSettings{Layout: l, PauseImage: "localhost/pause:v1", Runc: "/usr/sbin/runc", CNIBinDir: "/usr/lib/cni"})
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, want := range []string{
		"version = 2\n",
		`root = "/var/lib/berth/agent/containerd/root"`,
		`state = "/var/lib/berth/agent/containerd/state"`,
		"[grpc]\n  address = \"/var/lib/berth/agent/run/containerd.sock\"",
		"[ttrpc]\n  address = \"/var/lib/berth/agent/run/containerd.ttrpc.sock\"",
		"[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"/var/lib/berth/agent/containerd/opt\"",
		`sandbox_image = "localhost/pause:v1"`,
		"restrict_oom_score_adj = true",
		"disable_apparmor = true",
		`stream_server_address = "127.0.0.1"`,
		`snapshotter = "overlayfs"`,
		`runtime_type = "io.containerd.runc.v2"`,
		`BinaryName = "/usr/sbin/runc"`,
		"SystemdCgroup = false",
		`Root = "/var/lib/berth/agent/runc"`,
		`bin_dir = "/usr/lib/cni"`,
		`conf_dir = "/var/lib/berth/agent/cni/net.d"`,
		"max_conf_num = 1",
		`"io.containerd.snapshotter.v1.devmapper",`,
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
}

func TestContainerdConfigQuotesAndRefusesControlCharacters(t *testing.T) {
	b, err := containerdConfig(containerdSettings{Layout: NewLayout(`/data/with "quotes" and \ back`), PauseImage: "p", Runc: "r", CNIBinDir: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `root = "/data/with \"quotes\" and \\ back/agent/containerd/root"`; !strings.Contains(string(b), want) {
		t.Errorf("config lacks %s:\n%s", want, b)
	}
	if _, err := containerdConfig(containerdSettings{Layout: NewLayout("/data\n[grpc]"), PauseImage: "p", Runc: "r", CNIBinDir: "c"}); err == nil {
		t.Error("a newline in the data dir was accepted")
	}
}

func TestLayoutSocketsFitUnixSocketLimit(t *testing.T) {
	l := NewLayout("/var/lib/berth")
	if l.Address != "/var/lib/berth/agent/run/containerd.sock" || Address("/var/lib/berth") != l.Address {
		t.Errorf("Address = %q", l.Address)
	}
	if Endpoint("/var/lib/berth") != "unix:///var/lib/berth/agent/run/containerd.sock" {
		t.Errorf("Endpoint = %q", Endpoint("/var/lib/berth"))
	}
	if _, err := Start(t.Context(), Config{DataDir: "/" + strings.Repeat("d", 90)}); err == nil || !strings.Contains(err.Error(), "shorter --data-dir") {
		t.Errorf("Start with a long data dir: %v, want the socket length error", err)
	}
}
