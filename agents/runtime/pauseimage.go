package runtime

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/images"
)

// DefaultBusyboxImage is the local shell image (busybox with every applet on PATH).
const DefaultBusyboxImage = "localhost/busybox:latest"

// pauseScript keeps the sandbox alive until SIGTERM or SIGINT and reaps
// children (as PID 1 of a shared pid namespace it adopts orphans; `wait`
// reaps them). busybox sh costs well under a megabyte of memory.
const pauseScript = `trap 'exit 0' TERM INT; while :; do sleep 2147483647 & wait $!; done`

// PauseImage is the sandbox image: the static busybox at busybox, running pauseScript.
func PauseImage(busybox string) (v1.Image, error) {
	return images.FromFiles([]images.File{
		{Path: "/bin/busybox", Source: busybox},
		{Path: "/bin/sh", Linkname: "busybox"},
		{Path: "/bin/sleep", Linkname: "busybox"},
	}, images.Config{
		Entrypoint: []string{"/bin/sh", "-c", pauseScript},
	})
}

// BusyboxImage is a shell image: the static busybox at busybox with a link
// for each of its applets in /bin, entrypoint sh.
func BusyboxImage(ctx context.Context, busybox string) (v1.Image, error) {
	out, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w (is package busybox-static installed?)", busybox, err)
	}
	files := []images.File{{Path: "/bin/busybox", Source: busybox}, {Path: "/tmp", Mode: 0o1777}}
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" && !strings.Contains(applet, "/") {
			files = append(files, images.File{Path: "/bin/" + applet, Linkname: "busybox"})
		}
	}
	return images.FromFiles(files, images.Config{Entrypoint: []string{"/bin/sh"}})
}

// EnsurePauseImage builds the pause image from the static busybox (it never
// pulls: no registry is reachable) and imports it as ref into the containerd
// at address (namespace k8s.io) unless it is there already. It returns once
// the CRI plugin sees the image.
func EnsurePauseImage(ctx context.Context, address, ref string) error {
	return ensureImage(ctx, address, ref, func() (v1.Image, error) { return PauseImage(BusyboxPath) })
}

// EnsureBusyboxImage is EnsurePauseImage for the busybox shell image
// (BusyboxImage), e.g. DefaultBusyboxImage.
func EnsureBusyboxImage(ctx context.Context, address, ref string) error {
	return ensureImage(ctx, address, ref, func() (v1.Image, error) { return BusyboxImage(ctx, BusyboxPath) })
}

func ensureImage(ctx context.Context, address, ref string, build func() (v1.Image, error)) error {
	store, err := images.Open(ctx, address)
	if err != nil {
		return err
	}
	defer store.Close()
	has, err := store.Has(ctx, ref)
	if err != nil {
		return err
	}
	if !has {
		img, err := build()
		if err != nil {
			return fmt.Errorf("build image %s: %w", ref, err)
		}
		if _, err := store.ImportImage(ctx, ref, img); err != nil {
			return err
		}
	}
	return WaitCRIImage(ctx, address, ref)
}

// WaitCRIImage waits until the CRI image service on the containerd socket
// at address knows the image ref: the CRI plugin learns of imports through
// events, a moment later, and an image it does not know yet would make it
// try a pull (which fails: no registry).
func WaitCRIImage(ctx context.Context, address, ref string) error {
	conn, err := DialCRI(address)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := runtimeapi.NewImageServiceClient(conn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err == nil && resp.Image != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("image %s imported into %s but the CRI plugin does not list it (last error: %v)", ref, address, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
