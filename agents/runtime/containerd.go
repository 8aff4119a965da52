package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/images"
)

// DefaultPauseImage is the sandbox image berth builds locally (EnsurePauseImage).
const DefaultPauseImage = "localhost/pause:v1"

// Config configures the managed containerd.
type Config struct {
	// DataDir is the berth data dir; the runtime's files live in
	// AgentDir(DataDir) (see Layout).
	DataDir string
	// PauseImage is the CRI sandbox image (default DefaultPauseImage). It must
	// be imported before the first pod: no registry is reachable.
	PauseImage string
	// Log receives the runtime's logs and containerd's (debug; its warnings
	// and errors at warn). Default: slog.Default().
	Log *slog.Logger
	// CgroupParent is the cgroup the kubelet puts pods under (cgroupfs path);
	// Cleanup removes what is left below it. Default DefaultCgroupParent.
	CgroupParent string
	// Containerd is the containerd binary (default: "containerd" from PATH).
	Containerd string
	// CNIBinDir is where the CNI plugins are (default DefaultCNIBinDir).
	CNIBinDir string
	// ReadyTimeout bounds how long Start waits for the socket (default 30s).
	ReadyTimeout time.Duration
}

// DefaultCgroupParent is the cgroupfs parent of the pods berth runs.
const DefaultCgroupParent = "/berth"

func (c Config) withDefaults() Config {
	if c.PauseImage == "" {
		c.PauseImage = DefaultPauseImage
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.CgroupParent == "" {
		c.CgroupParent = DefaultCgroupParent
	}
	if c.Containerd == "" {
		c.Containerd = "containerd"
	}
	if c.CNIBinDir == "" {
		c.CNIBinDir = DefaultCNIBinDir
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 30 * time.Second
	}
	return c
}

// Containerd is a containerd process berth started and supervises: if it
// dies it is restarted with back-off until Stop. Containers survive both a
// crash and Stop: their shims are separate processes.
type Containerd struct {
	cfg    Config
	layout Layout
	log    *slog.Logger
	binary string

	stopOnce sync.Once
	stop     chan struct{} // closed by Stop
	done     chan struct{} // closed when the supervisor has returned

	mu       sync.Mutex
	proc     *process
	restarts int
}

// process is one run of the containerd binary.
type process struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{} // closed after Wait returned; err is then set
	err     error
	tail    *lineTail
}

// Start writes the containerd config under the agent dir, starts containerd
// and returns once its socket answers CRI Version. A containerd left running
// by an agent that crashed (found through the pid file) is stopped first.
func Start(ctx context.Context, cfg Config) (*Containerd, error) {
	cfg = cfg.withDefaults()
	if cfg.DataDir == "" {
		return nil, errors.New("runtime: Config.DataDir is empty")
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.DataDir = abs
	layout := NewLayout(cfg.DataDir)
	if len(layout.TTRPCAddress) > maxSocketPath {
		return nil, fmt.Errorf("containerd socket path %s is %d bytes, longer than the %d a unix socket allows: use a shorter --data-dir",
			layout.TTRPCAddress, len(layout.TTRPCAddress), maxSocketPath)
	}
	binary, err := exec.LookPath(cfg.Containerd)
	if err != nil {
		return nil, fmt.Errorf("containerd binary %q not found: %w (install with: apt-get install -y containerd)", cfg.Containerd, err)
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		return nil, fmt.Errorf("runc not found: %w (install with: apt-get install -y runc)", err)
	}
	pause, err := images.NormalizeRef(cfg.PauseImage)
	if err != nil {
		return nil, err
	}
	conf, err := containerdConfig(containerdSettings{Layout: layout, PauseImage: pause, Runc: runc, CNIBinDir: cfg.CNIBinDir})
	if err != nil {
		return nil, err
	}
	for _, d := range []string{filepath.Dir(layout.ContainerdConfig), layout.Root, layout.State, layout.Opt,
		filepath.Dir(layout.Address), layout.RuncRoot, layout.CNIConfDir, layout.IPAMDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("runtime dir: %w", err)
		}
	}
	if err := stopStale(layout, cfg.Log); err != nil {
		return nil, err
	}
	if err := answers(ctx, layout.Address); err == nil {
		return nil, fmt.Errorf("another containerd already serves %s (is berth agent already running with this data dir?)", layout.Address)
	}
	if err := writeFileAtomic(layout.ContainerdConfig, conf, 0o600); err != nil {
		return nil, err
	}

	c := &Containerd{cfg: cfg, layout: layout, log: cfg.Log.With("component", "containerd"), binary: binary,
		stop: make(chan struct{}), done: make(chan struct{})}
	p, err := c.spawn()
	if err != nil {
		return nil, err
	}
	c.proc = p
	if err := waitReady(ctx, layout.Address, p, cfg.ReadyTimeout); err != nil {
		terminate(p, 5*time.Second)
		return nil, err
	}
	c.log.Info("containerd ready", "pid", p.cmd.Process.Pid, "address", layout.Address, "took", time.Since(p.started).Round(time.Millisecond))
	go c.supervise()
	return c, nil
}

// Endpoint is the CRI endpoint (unix:///.../containerd.sock) for the kubelet.
func (c *Containerd) Endpoint() string { return "unix://" + c.layout.Address }

// Address is the socket path, for the containerd Go client (images.Open).
func (c *Containerd) Address() string { return c.layout.Address }

// Layout is where this containerd keeps its files.
func (c *Containerd) Layout() Layout { return c.layout }

// PID is the pid of the current containerd process (0 while a restart failed).
func (c *Containerd) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc.cmd == nil {
		return 0
	}
	return c.proc.cmd.Process.Pid
}

// Restarts counts how many times the supervisor restarted containerd.
func (c *Containerd) Restarts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarts
}

// Stop stops containerd: SIGTERM, then SIGKILL after 10 seconds. Running
// containers are left alone (their shims outlive containerd); the next Start
// picks them up again. Stop is idempotent.
func (c *Containerd) Stop() error {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	return nil
}

// supervise restarts containerd whenever it exits until Stop, with a
// back-off that doubles from 100ms to 10s and resets after a minute of uptime.
func (c *Containerd) supervise() {
	defer close(c.done)
	backoff := 100 * time.Millisecond
	for {
		c.mu.Lock()
		p := c.proc
		c.mu.Unlock()
		select {
		case <-c.stop:
			terminate(p, 10*time.Second)
			os.Remove(c.layout.PIDFile)
			c.log.Info("containerd stopped")
			return
		case <-p.exited:
		}
		if time.Since(p.started) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		c.log.Warn("containerd exited; restarting", "err", p.err, "after", backoff, "lastOutput", p.tail.String())
		select {
		case <-c.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
		np, err := c.spawn()
		if err != nil {
			c.log.Warn("containerd restart failed", "err", err)
			np = &process{started: time.Now(), exited: make(chan struct{}), err: err, tail: &lineTail{}}
			close(np.exited)
		}
		c.mu.Lock()
		c.proc = np
		c.restarts++
		c.mu.Unlock()
	}
}

// spawn starts the containerd binary and the goroutine that logs its output
// and waits for it.
func (c *Containerd) spawn() (*process, error) {
	cmd := exec.Command(c.binary, "--config", c.layout.ContainerdConfig)
	// Setpgid: a terminal's Ctrl-C reaches the agent, which stops containerd
	// in order. No Pdeathsig: Go delivers it when the forking OS thread
	// exits, which can happen while the agent lives; a containerd orphaned by
	// a crashed agent is stopped by the next Start instead (stopStale).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{cmd: cmd, exited: make(chan struct{}), tail: &lineTail{}}
	out := &logWriter{log: c.log, tail: p.tail}
	cmd.Stdout, cmd.Stderr = out, out
	// Processes containerd starts may inherit its output; do not wait for
	// them to close it once containerd itself has exited.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.binary, err)
	}
	p.started = time.Now()
	if err := os.WriteFile(c.layout.PIDFile, []byte(fmt.Sprintf("%d %d\n", cmd.Process.Pid, os.Getpid())), 0o600); err != nil {
		c.log.Warn("cannot write containerd pid file", "err", err)
	}
	go func() {
		p.err = cmd.Wait()
		out.flush()
		close(p.exited)
	}()
	return p, nil
}

// terminate sends SIGTERM to p, then SIGKILL after grace, and waits for it.
func terminate(p *process, grace time.Duration) {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitReady polls the socket with CRI Version until it answers, p exits or
// timeout passes.
func waitReady(ctx context.Context, address string, p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = answers(ctx, address); last == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("containerd exited before serving %s: %v\n%s", address, p.err, p.tail.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd did not answer on %s within %s: %v\n%s", address, timeout, last, p.tail.String())
		}
	}
}

// ServesCRI reports whether the containerd socket at address serves CRI
// runtime.v1 (berth's managed containerd does; one configured without the
// CRI plugin does not).
func ServesCRI(ctx context.Context, address string) bool { return answers(ctx, address) == nil }

// answers asks the CRI runtime service on the socket at address for its version.
func answers(ctx context.Context, address string) error {
	if _, err := os.Stat(address); err != nil {
		return err
	}
	conn, err := DialCRI(address)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = runtimeapi.NewRuntimeServiceClient(conn).Version(ctx, &runtimeapi.VersionRequest{})
	return err
}

// DialCRI opens a gRPC connection to the CRI services on the containerd
// socket at address (a path); use runtimeapi.NewRuntimeServiceClient and
// NewImageServiceClient on it.
func DialCRI(address string) (*grpc.ClientConn, error) {
	return grpc.NewClient("unix://"+address, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
}

// stopStale stops a containerd recorded in the pid file ("<containerd pid>
// <agent pid>") that still runs with this layout's config but whose agent
// is gone (it was re-parented). One whose agent still runs is an error: two
// agents must not share a data dir.
func stopStale(layout Layout, log *slog.Logger) error {
	b, err := os.ReadFile(layout.PIDFile)
	if err != nil {
		return nil
	}
	var pid, agent int
	if n, _ := fmt.Sscan(string(b), &pid, &agent); n < 1 || pid <= 0 {
		return nil
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), layout.ContainerdConfig) {
		return nil // gone, or the pid now belongs to another program
	}
	if ppid := parentPID(pid); ppid == agent {
		return fmt.Errorf("containerd pid %d, started by pid %d, already serves %s: is another berth agent running with this data dir?", pid, ppid, layout.Address)
	}
	log.Warn("stopping a containerd left running by an agent that is gone", "pid", pid, "agent", agent)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(pid, 10*time.Second) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("containerd pid %d (from %s) does not exit", pid, layout.PIDFile)
}

// parentPID reads the parent of pid from /proc (0 if unknown).
func parentPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// waitGone polls until pid has exited (true) or timeout passes. A zombie
// counts as exited: reaping it is its parent's job.
func waitGone(pid int, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if processState(pid) == "" || processState(pid) == "Z" {
			return true
		}
	}
	return false
}

// processState is the state letter of pid from /proc (R, S, Z...; "" if gone).
func processState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 1 {
		return ""
	}
	return fields[0]
}

// containerdLevel finds the level in a containerd log line (logrus text format).
var containerdLevel = regexp.MustCompile(`\blevel=(\w+)`)

// logWriter logs containerd's output line by line: warnings and errors at
// warn, the rest at debug; the last lines are kept for error messages.
type logWriter struct {
	log  *slog.Logger
	tail *lineTail
	mu   sync.Mutex
	buf  []byte
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 1<<20 { // a runaway line without a newline
		w.line(string(w.buf))
		w.buf = nil
	}
	return len(b), nil
}

func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(string(w.buf))
		w.buf = nil
	}
}

func (w *logWriter) line(line string) {
	w.tail.add(line)
	level := ""
	if m := containerdLevel.FindStringSubmatch(line); m != nil {
		level = m[1]
	}
	switch level {
	case "warning", "error", "fatal", "panic":
		w.log.Warn(line)
	default:
		w.log.Debug(line)
	}
}

// lineTail keeps the last lines of a process's output.
type lineTail struct {
	mu    sync.Mutex
	lines []string
}

func (t *lineTail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > 20 {
		t.lines = t.lines[len(t.lines)-20:]
	}
}

func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// writeFileAtomic replaces path with data through a temporary file in the same directory.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
