package kubelet

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-io/berth/agents/kubelet/lifecycle"
	"github.com/berth-io/berth/agents/kubelet/logs"
)

// Limits of a termination message, as kubelet's: 4 KiB from the file,
// the last 80 lines (at most 2 KiB) of the log as the fallback.
const (
	maxTerminationMessage = 4096
	fallbackLogLines      = 80
	fallbackLogBytes      = 2048
)

// terminationFile is the host file a run of a container may write its
// termination message to (mounted at terminationMessagePath).
func (k *Kubelet) terminationFile(pod *corev1.Pod, container string, restartCount int) string {
	return filepath.Join(k.cfg.RootDir, string(pod.UID), "containers", container, strconv.Itoa(restartCount))
}

// prepareTerminationFile creates the empty, world-writable message file.
func (k *Kubelet) prepareTerminationFile(pod *corev1.Pod, container string, restartCount int) (string, error) {
	path := k.terminationFile(pod, container, restartCount)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o666)
	if err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o666)
}

// terminationMessages fills in the message of each exited run from its
// termination message file, or from the end of its log when the
// container says FallbackToLogsOnError and it failed.
func (k *Kubelet) terminationMessages(ctx context.Context, pod *corev1.Pod, obs *lifecycle.Observed) {
	for i := range obs.Containers {
		c := &obs.Containers[i]
		if c.State != lifecycle.Exited || c.Message != "" {
			continue
		}
		spec := containerSpec(pod, c.Name, c.Kind)
		if spec == nil {
			continue
		}
		if b, err := readAtMost(k.terminationFile(pod, c.Name, c.RestartCount), maxTerminationMessage); err == nil && len(b) > 0 {
			c.Message = string(b)
			continue
		}
		if spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && c.ExitCode != 0 {
			var buf bytes.Buffer
			path := filepath.Join(logs.PodDir(k.cfg.LogDir, pod.Namespace, pod.Name, pod.UID), logs.ContainerFile(c.Name, c.RestartCount))
			if err := logs.Read(ctx, path, logs.Options{Tail: fallbackLogLines, LimitBytes: fallbackLogBytes}, &buf, nil); err == nil {
				c.Message = buf.String()
			}
		}
	}
}

func readAtMost(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}
