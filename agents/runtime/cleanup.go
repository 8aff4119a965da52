package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-shellwords"
	"github.com/vishvananda/netlink"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Cleanup tears down what the agent set up on this node (berth agent
// --cleanup): it starts the managed containerd, stops and removes every CRI
// pod sandbox and container, stops containerd, deletes the pod network's
// bridge, its masquerade table and the CNI iptables rules and chains tagged
// with its name (left by older conflists with ipMasq), removes
// the pod cgroups below cfg.CgroupParent and the runtime state under the
// agent dir (containerd state, runc state, IP allocations, CNI config,
// sockets). Images stay. Cleanup is idempotent: a second run finds nothing
// to do and succeeds. It must not run while berth agent runs on the same
// data dir.
func Cleanup(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if cfg.DataDir == "" {
		return errors.New("runtime: Config.DataDir is empty")
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.DataDir = abs
	layout := NewLayout(cfg.DataDir)
	log := cfg.Log.With("component", "cleanup")
	var errs []error

	networks, err := readNetworks(layout.CNIConfDir)
	if err != nil {
		errs = append(errs, fmt.Errorf("read CNI config: %w", err))
	}
	if _, err := os.Stat(layout.ContainerdConfig); err == nil {
		c, err := Start(ctx, cfg)
		if err != nil {
			errs = append(errs, fmt.Errorf("start containerd to remove pods: %w", err))
		} else {
			if err := removeAllPods(ctx, c.Address(), log); err != nil {
				errs = append(errs, err)
			}
			c.Stop()
		}
	}
	for _, n := range networks {
		if err := removeCNIRules(ctx, n.Name, log); err != nil {
			errs = append(errs, err)
		}
		if err := RemoveMasquerade(n.Name); err != nil {
			errs = append(errs, err)
		}
		if err := removeLink(n.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	if err := RemoveCgroup(cfg.CgroupParent); err != nil {
		errs = append(errs, err)
	}
	if err := unmountBelow(layout.Dir); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []string{layout.State, layout.RuncRoot, layout.IPAMDir, filepath.Dir(layout.Address), layout.CNIConfDir} {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", d, err))
		}
	}
	if len(errs) == 0 {
		log.Info("node runtime cleaned up", "dataDir", cfg.DataDir)
	}
	return errors.Join(errs...)
}

// removeAllPods stops and removes every pod sandbox and container the CRI
// plugin at address knows. A sandbox whose network teardown fails is still
// removed (RemovePodSandbox tears down what it can).
func removeAllPods(ctx context.Context, address string, log *slog.Logger) error {
	conn, err := DialCRI(address)
	if err != nil {
		return err
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)
	pods, err := rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("list pod sandboxes: %w", err)
	}
	var errs []error
	for _, p := range pods.Items {
		name := p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
		if err := StopPodSandbox(ctx, rs, p.Id); err != nil {
			log.Warn("stop pod sandbox failed; removing it anyway", "pod", name, "id", p.Id, "err", err)
		}
		if _, err := rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove pod sandbox %s (%s): %w", name, p.Id, err))
			continue
		}
		log.Info("removed pod sandbox", "pod", name, "id", p.Id)
	}
	ctrs, err := rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list containers: %w", err))...)
	}
	for _, c := range ctrs.Containers {
		_, _ = rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.Id, Timeout: 0})
		if _, err := rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s (%s): %w", c.GetMetadata().GetName(), c.Id, err))
		}
	}
	return errors.Join(errs...)
}

// removeLink deletes the network interface name; a missing one is fine.
func removeLink(name string) error {
	if name == "" {
		return nil
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return fmt.Errorf("look up bridge %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("delete bridge %s: %w", name, err)
	}
	return nil
}

// sharedCNIChains are chains all CNI networks of the machine share (portmap's
// and the firewall plugin's); Cleanup removes only its own rules from them.
var sharedCNIChains = []string{"CNI-HOSTPORT-", "CNI-FORWARD", "CNI-ADMIN"}

// iptablesRule is one rule of `iptables -S`: -A CHAIN ARGS...
type iptablesRule struct {
	chain string
	args  []string
}

// cniCleanupPlan decides, from the rules of one table (`iptables -S`), what
// to delete for the CNI network named network: the rules tagged with it
// (their comment holds `name: "<network>"`) outside the chains to drop, and
// the per-pod CNI-* chains that hold or are the target of such rules.
func cniCleanupPlan(lines []string, network string) (rules []iptablesRule, chains []string, err error) {
	tag := `name: \"` + network + `\"`
	existing := map[string]bool{}
	var tagged []iptablesRule
	for _, line := range lines {
		if strings.HasPrefix(line, "-N ") {
			existing[strings.TrimSpace(line[3:])] = true
		}
		if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, tag) {
			continue
		}
		words, err := shellwords.Parse(line)
		if err != nil || len(words) < 2 {
			return nil, nil, fmt.Errorf("iptables rule %q: cannot parse: %v", line, err)
		}
		tagged = append(tagged, iptablesRule{chain: words[1], args: words[2:]})
	}
	drop := map[string]bool{}
	for _, r := range tagged {
		if ownChain(r.chain) {
			drop[r.chain] = true
		}
		if target := jumpTarget(r.args); ownChain(target) && existing[target] {
			drop[target] = true
		}
	}
	for _, r := range tagged {
		if !drop[r.chain] {
			rules = append(rules, r)
		}
	}
	for c := range drop {
		chains = append(chains, c)
	}
	sort.Strings(chains)
	return rules, chains, nil
}

// ownChain reports whether chain is a per-pod CNI chain (not shared).
func ownChain(chain string) bool {
	if !strings.HasPrefix(chain, "CNI-") {
		return false
	}
	for _, s := range sharedCNIChains {
		if strings.HasPrefix(chain, s) {
			return false
		}
	}
	return true
}

func jumpTarget(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-j" || args[i] == "-g" {
			return args[i+1]
		}
	}
	return ""
}

// removeCNIRules deletes, in the nat and filter tables, the iptables rules
// the CNI plugins made for network and their per-pod chains. Rules or chains
// already gone are not an error (iptables-nft words that differently).
func removeCNIRules(ctx context.Context, network string, log *slog.Logger) error {
	var errs []error
	for _, table := range []string{"nat", "filter"} {
		out, err := iptables(ctx, "-t", table, "-S")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules, chains, err := cniCleanupPlan(splitLines(out), network)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range rules {
			if _, err := iptables(ctx, append([]string{"-t", table, "-D", r.chain}, r.args...)...); err != nil && !iptablesGone(err) {
				errs = append(errs, err)
			}
		}
		for _, c := range chains {
			if _, err := iptables(ctx, "-t", table, "-F", c); err != nil && !iptablesGone(err) {
				errs = append(errs, err)
			}
		}
		for _, c := range chains {
			if _, err := iptables(ctx, "-t", table, "-X", c); err != nil && !iptablesGone(err) {
				errs = append(errs, err)
			}
		}
		if len(rules)+len(chains) > 0 {
			log.Info("removed CNI iptables rules", "network", network, "table", table, "rules", len(rules), "chains", chains)
		}
	}
	return errors.Join(errs...)
}

func iptables(ctx context.Context, args ...string) (string, error) {
	args = append([]string{"-w", "5"}, args...)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "iptables", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// iptablesGone reports whether err says the rule or chain does not exist.
func iptablesGone(err error) bool {
	s := err.Error()
	for _, m := range []string{"No chain/target/match", "does a matching rule exist", "Bad rule", "doesn't exist", "does not exist", "No such file"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// RemoveCgroup removes the cgroup at path (a cgroupfs path such as
// /berth/pod<uid>) and every cgroup below it, deepest first, in every
// mounted cgroup hierarchy (v1 controllers and v2). A missing cgroup is
// fine; one that still holds processes is an error. The kubelet calls it
// for a pod that is gone (containerd leaves pod cgroups behind).
func RemoveCgroup(path string) error {
	if !filepath.IsAbs(path) || filepath.Clean(path) == "/" {
		return fmt.Errorf("cgroup path %q: must be absolute and not the root", path)
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		dir := filepath.Join(m, path)
		var dirs []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := len(dirs) - 1; i >= 0; i-- { // WalkDir lists parents first
			if err := removeCgroupDir(dirs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroupDir rmdirs one cgroup, retrying briefly while the kernel
// still counts exiting tasks (EBUSY right after the last process died).
func removeCgroupDir(dir string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupMounts lists the mount points of the cgroup hierarchies (v1 and v2),
// one per hierarchy.
func cgroupMounts() ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseCgroupMounts(string(b)), nil
}

// parseCgroupMounts picks the cgroup and cgroup2 mount points out of mountinfo.
func parseCgroupMounts(mountinfo string) []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range splitLines(mountinfo) {
		fields := strings.Fields(line)
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(fields) || len(fields) < 5 {
			continue
		}
		fstype, mountpoint := fields[sep+1], unescapeMount(fields[4])
		if (fstype == "cgroup" || fstype == "cgroup2") && !seen[mountpoint] {
			seen[mountpoint] = true
			out = append(out, mountpoint)
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountBelow lazily unmounts every mount below dir, deepest first (pod
// shm mounts left by a crashed containerd), so its state can be removed.
func unmountBelow(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range splitLines(string(b)) {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if strings.HasPrefix(mp, dir+"/") {
			points = append(points, mp)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	var errs []error
	for _, mp := range points {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// StopPodSandbox stops a pod sandbox through the CRI client rs, retrying
// up to three attempts in all. A CNI teardown fails once on iptables-nft when
// the pod's masquerade chain is already gone (the plugins' iptables library
// does not read nft's "Chain '...' does not exist" as "not found"); the
// plugin has removed the pod's interface by then, so the next attempt has
// nothing left to tear down and succeeds.
func StopPodSandbox(ctx context.Context, rs runtimeapi.RuntimeServiceClient, id string) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if _, err = rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err == nil {
			return nil
		}
	}
	return err
}
