package volumes

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-io/berth/agents/kubelet/envvars"
)

type fakeSource struct {
	tokens []authenticationv1.TokenRequestSpec
}

func (f *fakeSource) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if name == "cfg" {
		return &corev1.ConfigMap{Data: map[string]string{"a.txt": "A", "b.txt": "B"}, BinaryData: map[string][]byte{"bin": {1, 2}}}, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f *fakeSource) Secret(ns, name string) (*corev1.Secret, error) {
	if name == "sec" {
		return &corev1.Secret{Data: map[string][]byte{"pw": []byte("s3cret")}}, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func (f *fakeSource) Token(_ context.Context, ns, sa string, spec authenticationv1.TokenRequestSpec) (string, error) {
	f.tokens = append(f.tokens, spec)
	return "token-for-" + ns + "-" + sa, nil
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetupLaysOutVolumes(t *testing.T) {
	dir, host := t.TempDir(), t.TempDir()
	mode := int32(0o400)
	dirType := corev1.HostPathDirectoryOrCreate
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}, Spec: corev1.PodSpec{
		ServiceAccountName: "robot",
		Volumes: []corev1.Volume{
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", DefaultMode: &mode, Items: []corev1.KeyToPath{{Key: "pw", Path: "dir/password"}}}}},
			{Name: "opt", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gone", Optional: new(true)}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(host, "made"), Type: &dirType}}},
			{Name: "api", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "vault"}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			}}}},
		},
		Containers: []corev1.Container{{Name: "c", VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg", ReadOnly: true}, {Name: "scratch", MountPath: "/s", SubPath: "sub"}}}},
	}}
	src := &fakeSource{}
	paths, err := Setup(context.Background(), dir, envvars.Pod{Pod: pod}, src)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(paths["scratch"]); err != nil || st.Mode().Perm() != 0o777 {
		t.Errorf("emptyDir: %v %v", st, err)
	}
	if read(t, filepath.Join(paths["cfg"], "a.txt")) != "A" || read(t, filepath.Join(paths["cfg"], "bin")) != "\x01\x02" {
		t.Error("configMap keys are not files")
	}
	pw := filepath.Join(paths["sec"], "dir", "password")
	if st, err := os.Stat(pw); err != nil || st.Mode().Perm() != 0o400 || read(t, pw) != "s3cret" {
		t.Errorf("secret item: %v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(host, "made")); err != nil || paths["host"] != filepath.Join(host, "made") {
		t.Errorf("hostPath DirectoryOrCreate: %v, path %q", err, paths["host"])
	}
	if read(t, filepath.Join(paths["api"], "token")) != "token-for-ns-robot" || read(t, filepath.Join(paths["api"], "namespace")) != "ns" {
		t.Error("projected token or namespace wrong")
	}
	if len(src.tokens) != 1 || src.tokens[0].BoundObjectRef == nil || src.tokens[0].BoundObjectRef.UID != "u" || src.tokens[0].Audiences[0] != "vault" {
		t.Errorf("token request %+v, want it bound to the pod with the audience", src.tokens)
	}
	mounts, err := Mounts(&pod.Spec.Containers[0], paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 2 || mounts[0].ContainerPath != "/cfg" || !mounts[0].Readonly || mounts[1].HostPath != filepath.Join(paths["scratch"], "sub") {
		t.Errorf("mounts %v", mounts)
	}
}

func TestSetupRemovesKeysThatWentAway(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "cfg", "old.txt")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}}}}
	if _, err := Setup(context.Background(), dir, envvars.Pod{Pod: pod}, &fakeSource{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a key no longer in the ConfigMap is still a file: %v", err)
	}
}

func TestSetupErrors(t *testing.T) {
	tests := []struct {
		name string
		v    corev1.Volume
	}{
		{name: "missing configmap", v: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}},
		{name: "missing key", v: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", Items: []corev1.KeyToPath{{Key: "nope", Path: "x"}}}}}},
		{name: "unsupported type", v: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "/"}}}},
		{name: "escaping path", v: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", Items: []corev1.KeyToPath{{Key: "pw", Path: "../x"}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{tc.v}}}
			if _, err := Setup(context.Background(), t.TempDir(), envvars.Pod{Pod: pod}, &fakeSource{}); err == nil {
				t.Error("want an error")
			}
		})
	}
}

func TestTokenRefresh(t *testing.T) {
	projected := func(exp ...*int64) corev1.Volume {
		v := corev1.Volume{Name: "api", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}
		for _, e := range exp {
			v.Projected.Sources = append(v.Projected.Sources, corev1.VolumeProjection{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t", ExpirationSeconds: e}})
		}
		return v
	}
	tests := []struct {
		name    string
		volumes []corev1.Volume
		want    time.Duration
	}{
		{name: "no token", volumes: []corev1.Volume{{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}},
		{name: "default life", volumes: []corev1.Volume{projected(nil)}, want: 3607 * time.Second * 8 / 10},
		{name: "shortest wins", volumes: []corev1.Volume{projected(new(int64(7200))), projected(new(int64(600)))}, want: 480 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TokenRefresh(&corev1.Pod{Spec: corev1.PodSpec{Volumes: tc.volumes}}); got != tc.want {
				t.Errorf("TokenRefresh = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestMemoryEmptyDirIsATmpfsUntilUnmounted(t *testing.T) {
	dir := t.TempDir()
	limit := resource.MustParse("8Mi")
	pod := &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &limit}}}}}}
	t.Cleanup(func() { _ = Unmount(dir) })
	for range 2 { // a second Setup finds the tmpfs mounted
		if _, err := Setup(context.Background(), dir, envvars.Pod{Pod: pod}, &fakeSource{}); err != nil {
			t.Fatal(err)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Join(dir, "shm"), &st); err != nil || st.Type != unix.TMPFS_MAGIC || st.Blocks*uint64(st.Bsize) != 8<<20 {
		t.Errorf("statfs %+v, %v; want an 8 MiB tmpfs", st, err)
	}
	if err := Unmount(dir); err != nil {
		t.Fatal(err)
	}
	if err := unix.Statfs(filepath.Join(dir, "shm"), &st); err != nil || st.Type == unix.TMPFS_MAGIC {
		t.Errorf("still a tmpfs after Unmount (%v)", err)
	}
}

func TestRefreshInterval(t *testing.T) {
	cm := corev1.Volume{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}
	token := corev1.Volume{Name: "t", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t", ExpirationSeconds: new(int64(600))}}}}}}
	empty := corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	for _, tc := range []struct {
		name    string
		volumes []corev1.Volume
		period  time.Duration
		want    time.Duration
	}{
		{name: "nothing to refresh", volumes: []corev1.Volume{empty}, period: time.Minute},
		{name: "configmap: the sync period", volumes: []corev1.Volume{cm}, period: time.Minute, want: time.Minute},
		{name: "token due sooner than the period", volumes: []corev1.Volume{token}, period: time.Hour, want: 480 * time.Second},
		{name: "period sooner than the token", volumes: []corev1.Volume{token}, period: time.Minute, want: time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RefreshInterval(&corev1.Pod{Spec: corev1.PodSpec{Volumes: tc.volumes}}, tc.period); got != tc.want {
				t.Errorf("RefreshInterval = %s, want %s", got, tc.want)
			}
		})
	}
}
