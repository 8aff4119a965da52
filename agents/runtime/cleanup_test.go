package runtime

import (
	"reflect"
	"strings"
	"testing"
)

// natRules is `iptables -t nat -S` with two pods of network "berth" (one
// with a hostPort), one of "berth-2" and one of "other".
var natRules = strings.Split(`-P PREROUTING ACCEPT
-P POSTROUTING ACCEPT
-N CNI-0a1b2c3d4e5f60718293a4b5
-N CNI-11112222333344445555aaaa
-N CNI-DN-0a1b2c3d4e5f60718293a
-N CNI-HOSTPORT-DNAT
-N CNI-HOSTPORT-MASQ
-N CNI-HOSTPORT-SETMARK
-N CNI-eeee
-N CNI-ffff
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-A POSTROUTING -s 10.254.1.2/32 -m comment --comment "name: \"berth\" id: \"abc\"" -j CNI-0a1b2c3d4e5f60718293a4b5
-A POSTROUTING -s 10.254.1.3/32 -m comment --comment "name: \"berth\" id: \"def\"" -j CNI-11112222333344445555aaaa
-A POSTROUTING -s 10.254.2.3/32 -m comment --comment "name: \"berth-2\" id: \"y\"" -j CNI-eeee
-A POSTROUTING -s 10.99.0.5/32 -m comment --comment "name: \"other\" id: \"x\"" -j CNI-ffff
-A CNI-0a1b2c3d4e5f60718293a4b5 -d 10.254.1.0/24 -m comment --comment "name: \"berth\" id: \"abc\"" -j ACCEPT
-A CNI-0a1b2c3d4e5f60718293a4b5 ! -d 224.0.0.0/4 -m comment --comment "name: \"berth\" id: \"abc\"" -j MASQUERADE
-A CNI-DN-0a1b2c3d4e5f60718293a -s 10.254.1.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK
-A CNI-DN-0a1b2c3d4e5f60718293a -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.254.1.2:80
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"berth\" id: \"abc\"" -m multiport --dports 8080 -j CNI-DN-0a1b2c3d4e5f60718293a
-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
-A CNI-ffff -d 10.99.0.0/24 -m comment --comment "name: \"other\" id: \"x\"" -j ACCEPT`, "\n")

func TestCNICleanupPlanTakesOnlyTheNetworksOwnRulesAndChains(t *testing.T) {
	rules, chains, err := cniCleanupPlan(natRules, "berth")
	if err != nil {
		t.Fatal(err)
	}
	wantRules := []iptablesRule{
		{"POSTROUTING", []string{"-s", "10.254.1.2/32", "-m", "comment", "--comment", `name: "berth" id: "abc"`, "-j", "CNI-0a1b2c3d4e5f60718293a4b5"}},
		{"POSTROUTING", []string{"-s", "10.254.1.3/32", "-m", "comment", "--comment", `name: "berth" id: "def"`, "-j", "CNI-11112222333344445555aaaa"}},
		{"CNI-HOSTPORT-DNAT", []string{"-p", "tcp", "-m", "comment", "--comment", `dnat name: "berth" id: "abc"`, "-m", "multiport", "--dports", "8080", "-j", "CNI-DN-0a1b2c3d4e5f60718293a"}},
	}
	if !reflect.DeepEqual(rules, wantRules) {
		t.Errorf("rules:\n got %q\nwant %q", rules, wantRules)
	}
	wantChains := []string{"CNI-0a1b2c3d4e5f60718293a4b5", "CNI-11112222333344445555aaaa", "CNI-DN-0a1b2c3d4e5f60718293a"}
	if !reflect.DeepEqual(chains, wantChains) {
		t.Errorf("chains = %q, want %q", chains, wantChains)
	}
}

func TestCNICleanupPlanOfAnAbsentNetworkIsEmpty(t *testing.T) {
	rules, chains, err := cniCleanupPlan(natRules, "gone")
	if err != nil || len(rules)+len(chains) != 0 {
		t.Errorf("plan = %q %q %v, want nothing", rules, chains, err)
	}
}

func TestParseCgroupMountsFindsV1AndV2Hierarchies(t *testing.T) {
	info := `24 30 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
25 24 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
26 24 0:24 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
27 24 0:25 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
28 24 0:26 / /sys/fs/cgroup/name\040with\040space rw - cgroup cgroup rw,name=x
29 30 8:1 / /var/lib rw - ext4 /dev/sda1 rw`
	got := parseCgroupMounts(info)
	want := []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/name with space"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseCgroupMounts = %q, want %q", got, want)
	}
}
