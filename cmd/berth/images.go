package main

import (
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/agents/images"
	"github.com/berth-io/berth/agents/runtime"
)

func newImagesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build container images from Go source and import them into the node's containerd (no registry needed)",
		Long: "berth runs where no registry is reachable: images are built from Go main packages (a static binary in one\n" +
			"layer, as ko does), written as OCI layout tarballs and imported into the containerd that berth agent runs.",
	}
	cmd.AddCommand(newImagesBuildCommand(), newImagesImportCommand())
	return cmd
}

func newImagesBuildCommand() *cobra.Command {
	var tag, output, goarch string
	var env []string
	cmd := &cobra.Command{
		Use:   "build DIR -t REF [-o FILE.tar]",
		Short: "Build an image from the Go main package in DIR and write it as an OCI layout tarball",
		Long: "Build compiles the Go main package in DIR with CGO_ENABLED=0 -trimpath into a static binary, puts it in one\n" +
			"layer as /app/NAME (the entrypoint; NAME is DIR's base name) and writes the image, named REF, as an OCI\n" +
			"layout tarball that `berth images import` and `ctr images import` accept. It needs the go command.",
		Example: "  berth images build examples-repo/images/hello -t demo/hello:v1 -o bin/images/hello-v1.tar\n" +
			"  berth images import bin/images/hello-v1.tar",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tag == "" {
				return usageError{fmt.Errorf("-t/--tag REF is required (e.g. -t demo/hello:v1)")}
			}
			name, err := images.NormalizeRef(tag)
			if err != nil {
				return usageError{fmt.Errorf("-t/--tag: %w", err)}
			}
			if output == "" {
				output = defaultImageTar(name)
			}
			out := cmd.OutOrStdout()
			start := time.Now()
			fmt.Fprintf(out, "building %s from %s\n", name, args[0])
			img, err := images.BuildGo(cmd.Context(), args[0], images.GoOptions{GOARCH: goarch, Env: env})
			if err != nil {
				return err
			}
			digest, err := img.Digest()
			if err != nil {
				return err
			}
			built := time.Since(start)
			if err := images.WriteTar(img, tag, output); err != nil {
				return err
			}
			size := int64(0)
			if st, err := os.Stat(output); err == nil {
				size = st.Size()
			}
			fmt.Fprintf(out, "built %s (%s) in %s; wrote %s (%.1f MB) in %s\n", name, digest, built.Round(time.Millisecond),
				output, float64(size)/1e6, (time.Since(start) - built).Round(time.Millisecond))
			return nil
		},
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	f := cmd.Flags()
	f.StringVarP(&tag, "tag", "t", "", "image reference, e.g. demo/hello:v1 (pods name it the same way; it is stored as docker.io/demo/hello:v1)")
	f.StringVarP(&output, "output", "o", "", "tarball to write (default: NAME-TAG.tar in the current directory)")
	f.StringVar(&goarch, "goarch", "", "GOARCH of the binary and the image (default: this machine's)")
	f.StringArrayVarP(&env, "env", "e", nil, "KEY=value to add to the image's environment (repeatable)")
	return cmd
}

func newImagesImportCommand() *cobra.Command {
	var dataDir, address string
	cmd := &cobra.Command{
		Use:   "import FILE.tar...",
		Short: "Import image tarballs into the node's containerd (namespace k8s.io, where the kubelet finds them)",
		Long: "Import loads OCI layout (or docker archive) tarballs into the containerd berth agent manages, namespace\n" +
			"k8s.io, and unpacks them for overlayfs. By default it dials the socket under --data-dir\n" +
			"(DATA_DIR/agent/run/containerd.sock); --address dials another containerd.",
		Example: "  berth images import bin/images/hello-v1.tar bin/images/worker-v1.tar\n" +
			"  berth images import --address /run/containerd/containerd.sock hello.tar",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("give at least one image tarball")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if address == "" {
				address = runtime.Address(dataDir)
			}
			store, err := images.Open(cmd.Context(), address)
			if err != nil {
				return err
			}
			defer store.Close()
			out := cmd.OutOrStdout()
			// With CRI on the socket, wait until it lists each image, so a pod
			// created right after this command finds it.
			cri := runtime.ServesCRI(cmd.Context(), address)
			for _, file := range args {
				start := time.Now()
				names, err := store.ImportFile(cmd.Context(), file)
				if err != nil {
					return err
				}
				for _, name := range names {
					if cri {
						if err := runtime.WaitCRIImage(cmd.Context(), address, name); err != nil {
							return err
						}
					}
				}
				fmt.Fprintf(out, "imported %s from %s in %s\n", strings.Join(names, ", "), file, time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", defaultDataDir(), "berth data directory whose agent's containerd to import into (the same as berth agent's)")
	f.StringVar(&address, "address", "", "containerd socket to import into instead (overrides --data-dir)")
	return cmd
}

// defaultImageTar names the tarball of an image: hello-v1.tar for docker.io/demo/hello:v1.
func defaultImageTar(name string) string {
	repo, tag, _ := strings.Cut(path.Base(name), ":")
	return repo + "-" + tag + ".tar"
}

// flagUsageError makes a bad flag a usage error (exit code 2).
func flagUsageError(_ *cobra.Command, err error) error { return usageError{err} }
