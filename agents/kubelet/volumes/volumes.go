// Package volumes lays out a pod's volumes on the node (emptyDir,
// configMap, secret, downwardAPI, projected with ServiceAccount tokens,
// hostPath) and turns its containers' volumeMounts into CRI mounts.
package volumes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/kubelet/envvars"
)

// Source reads what volumes hold from the API server.
type Source interface {
	envvars.Source
	// Token asks for a token of ServiceAccount sa in namespace ns
	// (TokenRequest) bound to the pod in spec.BoundObjectRef.
	Token(ctx context.Context, namespace, sa string, spec authenticationv1.TokenRequestSpec) (string, error)
}

// File is one file of a volume: a path relative to the volume and its
// content and mode.
type File struct {
	Path string
	Data []byte
	Mode os.FileMode
}

// Dir is the directory holding the volumes of the pod with uid under
// root (the kubelet's pods directory).
func Dir(root, uid string) string { return filepath.Join(root, uid, "volumes") }

// Setup creates or refreshes every volume of pod under dir and returns
// the host path of each by volume name. A missing non-optional ConfigMap
// or Secret is an error naming it.
func Setup(ctx context.Context, dir string, p envvars.Pod, src Source) (map[string]string, error) {
	paths := make(map[string]string, len(p.Spec.Volumes))
	for _, v := range p.Spec.Volumes {
		if v.HostPath != nil {
			if err := hostPath(v.HostPath); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
			paths[v.Name] = v.HostPath.Path
			continue
		}
		path := filepath.Join(dir, v.Name)
		files, managed, err := Contents(ctx, p, v, src)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		if !managed {
			return nil, fmt.Errorf("volume %q: this volume type is not supported by berth (use emptyDir, configMap, secret, downwardAPI, projected or hostPath)", v.Name)
		}
		if files == nil {
			// emptyDir: writable by every user, kept across restarts.
			if err := os.MkdirAll(path, 0o777); err != nil {
				return nil, err
			}
			if v.EmptyDir.Medium == corev1.StorageMediumMemory {
				if err := mountTmpfs(path, v.EmptyDir.SizeLimit); err != nil {
					return nil, fmt.Errorf("volume %q: %w", v.Name, err)
				}
			}
			if err := os.Chmod(path, 0o777); err != nil {
				return nil, err
			}
		} else if err := writeFiles(path, files); err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		paths[v.Name] = path
	}
	return paths, nil
}

// Mounts are the CRI mounts of container c given the host path of each
// volume (Setup).
func Mounts(c *corev1.Container, paths map[string]string) ([]*runtimeapi.Mount, error) {
	var out []*runtimeapi.Mount
	for _, m := range c.VolumeMounts {
		host, ok := paths[m.Name]
		if !ok {
			return nil, fmt.Errorf("container %q volumeMount %q: no such volume in the pod", c.Name, m.Name)
		}
		if m.SubPath != "" {
			if filepath.IsAbs(m.SubPath) || strings.Contains(m.SubPath, "..") {
				return nil, fmt.Errorf("container %q volumeMount %q: subPath %q must be a relative path without '..'", c.Name, m.Name, m.SubPath)
			}
			host = filepath.Join(host, m.SubPath)
			if _, err := os.Stat(host); os.IsNotExist(err) {
				if err := os.MkdirAll(host, 0o777); err != nil {
					return nil, err
				}
			}
		}
		mount := &runtimeapi.Mount{ContainerPath: m.MountPath, HostPath: host, Readonly: m.ReadOnly}
		if m.MountPropagation != nil {
			switch *m.MountPropagation {
			case corev1.MountPropagationHostToContainer:
				mount.Propagation = runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
			case corev1.MountPropagationBidirectional:
				mount.Propagation = runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
			}
		}
		out = append(out, mount)
	}
	return out, nil
}

// Contents are the files of volume v (nil for emptyDir); managed is
// false for volume types that berth does not lay out.
func Contents(ctx context.Context, p envvars.Pod, v corev1.Volume, src Source) (files []File, managed bool, err error) {
	ns := p.Namespace
	switch {
	case v.EmptyDir != nil:
		return nil, true, nil
	case v.ConfigMap != nil:
		files, err := configMapFiles(ns, v.ConfigMap.LocalObjectReference, v.ConfigMap.Items, v.ConfigMap.Optional, mode(v.ConfigMap.DefaultMode), src)
		return nonNil(files), true, err
	case v.Secret != nil:
		files, err := secretFiles(ns, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, mode(v.Secret.DefaultMode), src)
		return nonNil(files), true, err
	case v.DownwardAPI != nil:
		files, err := downwardFiles(p, v.DownwardAPI.Items, mode(v.DownwardAPI.DefaultMode))
		return nonNil(files), true, err
	case v.Projected != nil:
		files, err := projectedFiles(ctx, p, v.Projected, src)
		return nonNil(files), true, err
	}
	return nil, false, nil
}

func projectedFiles(ctx context.Context, p envvars.Pod, v *corev1.ProjectedVolumeSource, src Source) ([]File, error) {
	def := mode(v.DefaultMode)
	var out []File
	for _, s := range v.Sources {
		var files []File
		var err error
		switch {
		case s.ConfigMap != nil:
			files, err = configMapFiles(p.Namespace, s.ConfigMap.LocalObjectReference, s.ConfigMap.Items, s.ConfigMap.Optional, def, src)
		case s.Secret != nil:
			files, err = secretFiles(p.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional, def, src)
		case s.DownwardAPI != nil:
			files, err = downwardFiles(p, s.DownwardAPI.Items, def)
		case s.ServiceAccountToken != nil:
			files, err = tokenFile(ctx, p, s.ServiceAccountToken, def, src)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
	return out, nil
}

func tokenFile(ctx context.Context, p envvars.Pod, t *corev1.ServiceAccountTokenProjection, def os.FileMode, src Source) ([]File, error) {
	sa := p.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	spec := authenticationv1.TokenRequestSpec{
		ExpirationSeconds: t.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID},
	}
	if t.Audience != "" {
		spec.Audiences = []string{t.Audience}
	}
	token, err := src.Token(ctx, p.Namespace, sa, spec)
	if err != nil {
		return nil, fmt.Errorf("token for serviceaccount %s/%s: %w", p.Namespace, sa, err)
	}
	return []File{{Path: t.Path, Data: []byte(token), Mode: def}}, nil
}

func configMapFiles(ns string, ref corev1.LocalObjectReference, items []corev1.KeyToPath, opt *bool, def os.FileMode, src Source) ([]File, error) {
	cm, err := src.ConfigMap(ns, ref.Name)
	if err != nil {
		if optional(opt) && apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("configmap %s/%s: %w", ns, ref.Name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles("configmap "+ns+"/"+ref.Name, data, items, opt, def)
}

func secretFiles(ns, name string, items []corev1.KeyToPath, opt *bool, def os.FileMode, src Source) ([]File, error) {
	s, err := src.Secret(ns, name)
	if err != nil {
		if optional(opt) && apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("secret %s/%s: %w", ns, name, err)
	}
	return keyFiles("secret "+ns+"/"+name, s.Data, items, opt, def)
}

// keyFiles are a ConfigMap's or Secret's keys as files: all of them, or
// only items (each under its path and mode).
func keyFiles(what string, data map[string][]byte, items []corev1.KeyToPath, opt *bool, def os.FileMode) ([]File, error) {
	if len(items) == 0 {
		out := make([]File, 0, len(data))
		for k, v := range data {
			out = append(out, File{Path: k, Data: v, Mode: def})
		}
		return out, nil
	}
	out := make([]File, 0, len(items))
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional(opt) {
				continue
			}
			return nil, fmt.Errorf("%s has no key %q", what, it.Key)
		}
		m := def
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		out = append(out, File{Path: it.Path, Data: v, Mode: m})
	}
	return out, nil
}

func downwardFiles(p envvars.Pod, items []corev1.DownwardAPIVolumeFile, def os.FileMode) ([]File, error) {
	var out []File
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = envvars.FieldValue(p, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = envvars.ResourceValue(p, nil, it.ResourceFieldRef)
		}
		if err != nil {
			return nil, fmt.Errorf("downwardAPI item %q: %w", it.Path, err)
		}
		m := def
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		out = append(out, File{Path: it.Path, Data: []byte(v), Mode: m})
	}
	return out, nil
}

// writeFiles makes dir hold exactly files: each written to a temporary
// name and renamed, so a reader in the container never sees half a file;
// files no longer wanted are removed.
func writeFiles(dir string, files []File) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, f := range files {
		if filepath.IsAbs(f.Path) || strings.Contains(f.Path, "..") {
			return fmt.Errorf("file path %q must be relative without '..'", f.Path)
		}
		path := filepath.Join(dir, f.Path)
		want[path] = true
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
		if err := os.WriteFile(tmp, f.Data, f.Mode); err != nil {
			return err
		}
		if err := os.Chmod(tmp, f.Mode); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || want[path] {
			return err
		}
		return os.Remove(path)
	})
}

// hostPath checks or creates a hostPath volume as its type asks.
func hostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	info, err := os.Stat(h.Path)
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if os.IsNotExist(err) {
			return os.MkdirAll(h.Path, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if os.IsNotExist(err) {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("hostPath %s: %w", h.Path, err)
	}
	switch t {
	case corev1.HostPathDirectory, corev1.HostPathDirectoryOrCreate:
		if !info.IsDir() {
			return fmt.Errorf("hostPath %s is not a directory", h.Path)
		}
	case corev1.HostPathFile, corev1.HostPathFileOrCreate:
		if !info.Mode().IsRegular() {
			return fmt.Errorf("hostPath %s is not a regular file", h.Path)
		}
	}
	return nil
}

func mode(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m)
}

func optional(b *bool) bool { return b != nil && *b }

func nonNil(f []File) []File {
	if f == nil {
		return []File{}
	}
	return f
}

// defaultTokenExpiration is a projected token's life when the pod does
// not say (the API server defaults expirationSeconds to 3607).
const defaultTokenExpiration = 3607

// RefreshInterval is how often a running pod's volumes are laid out again:
// every syncPeriod when it has volumes with API content (configMap, secret,
// downwardAPI, projected), so that changes reach the containers as with
// kubelet, and sooner when a projected token is due (TokenRefresh); 0 when
// nothing needs refreshing.
func RefreshInterval(pod *corev1.Pod, syncPeriod time.Duration) time.Duration {
	every := TokenRefresh(pod)
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil {
			if every == 0 || syncPeriod < every {
				every = syncPeriod
			}
			break
		}
	}
	return every
}

// TokenRefresh is how long after Setup a pod's projected ServiceAccount
// tokens must be requested again: at 80% of the shortest one's life, as
// kubelet does; 0 when the pod has none.
func TokenRefresh(pod *corev1.Pod) time.Duration {
	var shortest int64
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken == nil {
				continue
			}
			exp := int64(defaultTokenExpiration)
			if s.ServiceAccountToken.ExpirationSeconds != nil {
				exp = *s.ServiceAccountToken.ExpirationSeconds
			}
			if shortest == 0 || exp < shortest {
				shortest = exp
			}
		}
	}
	return time.Duration(shortest) * time.Second * 8 / 10
}

// mountTmpfs mounts a tmpfs at path (a memory-backed emptyDir) unless one
// is there already, limited to sizeLimit when set.
func mountTmpfs(path string, sizeLimit *resource.Quantity) error {
	var st, parent unix.Statfs_t
	if err := unix.Statfs(path, &st); err == nil && st.Type == unix.TMPFS_MAGIC {
		if err := unix.Statfs(filepath.Dir(path), &parent); err == nil && parent.Type != unix.TMPFS_MAGIC {
			return nil
		}
	}
	opts := "mode=0777"
	if sizeLimit != nil && !sizeLimit.IsZero() {
		opts += ",size=" + strconv.FormatInt(sizeLimit.Value(), 10)
	}
	if err := unix.Mount("tmpfs", path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting a tmpfs at %s: %w", path, err)
	}
	return nil
}

// Unmount unmounts the memory-backed emptyDirs in a pod's volumes
// directory dir (Dir), so that it can be removed.
func Unmount(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		var st unix.Statfs_t
		if unix.Statfs(path, &st) == nil && st.Type == unix.TMPFS_MAGIC {
			if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
				errs = append(errs, fmt.Errorf("unmounting %s: %w", path, err))
			}
		}
	}
	return errors.Join(errs...)
}
