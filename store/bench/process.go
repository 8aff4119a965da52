package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ServerProcess is a `berth server` running as a child process, so that
// its memory can be read apart from the load generator's.
type ServerProcess struct {
	// URL is where the server listens; Config is an admin client config
	// for it (protobuf, no client-side rate limit).
	URL     string
	Config  *rest.Config
	DataDir string
	// LogPath is the file the server's log goes to.
	LogPath string

	cmd     *exec.Cmd
	log     *os.File
	exited  chan struct{}
	waitErr error
}

// readyTimeout bounds how long a new server may take to answer /readyz.
const readyTimeout = time.Minute

// StartServerProcess runs `binary server` on a free port of 127.0.0.1 with
// an embedded etcd on free ports and without the in-process controllers and
// scheduler (the API server alone, as kube-apiserver is measured), keeping
// its data in dataDir and its log in dataDir/server.log, and returns once
// the server answers /readyz. The child gets SIGTERM if this process dies
// first.
func StartServerProcess(ctx context.Context, binary, dataDir string) (*ServerProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the server data dir: %w", err)
	}
	logPath := filepath.Join(dataDir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the server log: %w", err)
	}
	cmd := exec.Command(binary, "server", "--data-dir", dataDir, "--secure-port", strconv.Itoa(port),
		"--etcd-client-port", "0", "--etcd-peer-port", "0", "--disable", "controllers,scheduler,gitsync,agent")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s server: %w", binary, err)
	}
	p := &ServerProcess{
		URL:     "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		DataDir: dataDir,
		LogPath: logPath,
		cmd:     cmd,
		log:     logFile,
		exited:  make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("%w (server log: %s)", err, logPath)
	}
	return p, nil
}

// Pid is the server's process id.
func (p *ServerProcess) Pid() int { return p.cmd.Process.Pid }

// Memory reads the server's resident memory.
func (p *ServerProcess) Memory() (ProcMemory, error) { return ProcessMemory(p.Pid()) }

// CPU reads the CPU time the server has used.
func (p *ServerProcess) CPU() (time.Duration, error) { return ProcessCPU(p.Pid()) }

// Stop sends SIGTERM, waits for the server to exit (killing it after 15
// seconds) and closes its log.
func (p *ServerProcess) Stop() error {
	defer p.log.Close()
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping server pid %d: %w", p.Pid(), err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("server pid %d did not stop within 15s after SIGTERM; killed", p.Pid())
	}
}

// waitReady polls /readyz with the admin kubeconfig the server writes.
func (p *ServerProcess) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("the server exited before it was ready: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("the server was not ready within %s: %v", readyTimeout, last)
		case <-tick.C:
		}
		if last = p.probe(ctx); last == nil {
			return nil
		}
	}
}

// probe loads the kubeconfig (written at start, so possibly not yet
// there) and asks /readyz once.
func (p *ServerProcess) probe(ctx context.Context) error {
	config, err := clientcmd.BuildConfigFromFlags(p.URL, filepath.Join(p.DataDir, "admin.kubeconfig"))
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	if err := client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error(); err != nil {
		return err
	}
	p.Config = ClientConfig(config)
	return nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. Another
// process could take it before the server binds it; the server then fails
// to start and says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
