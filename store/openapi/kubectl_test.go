package openapi

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"sigs.k8s.io/yaml"
)

// kubectl runs the embedded kubectl with args against the fixture, with a
// fresh home directory (so a fresh discovery and HTTP cache) and KUBECONFIG
// pointing at the fixture. It returns standard output and error, and the
// error kubectl would have exited with.
func kubectl(t *testing.T, f *fixture, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", f.kubeconfig(t, home))
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := kubectlcmd.NewKubectlCommand(kubectlcmd.KubectlOptions{Arguments: append([]string{"kubectl"}, args...), IOStreams: streams})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)

	// kubectl exits on errors; turn that into a returned error.
	type fatal struct{ msg string }
	cmdutil.BehaviorOnFatal(func(msg string, code int) { panic(fatal{fmt.Sprintf("exit %d: %s", code, msg)}) })
	defer cmdutil.DefaultBehaviorOnFatal()
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			stdout, stderr, err = out.String(), errOut.String(), fmt.Errorf("%s", f.msg)
		}
	}()
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestKubectlExplain(t *testing.T) {
	f := newFixture(t, berthKinds(), nil)
	tests := []struct {
		args []string
		want []string
	}{
		{
			args: []string{"explain", "pods.spec.containers"},
			want: []string{
				"KIND:       Pod", "VERSION:    v1", "FIELD: containers <[]Container>",
				"List of containers belonging to the pod.",
				"image\t<string>", "name\t<string> -required-", "env\t<[]EnvVar>", "resources\t<ResourceRequirements>",
			},
		},
		{
			args: []string{"explain", "deployment.spec.strategy"},
			want: []string{
				"GROUP:      apps", "KIND:       Deployment", "FIELD: strategy <DeploymentStrategy>",
				"The deployment strategy to use to replace existing pods with new ones.",
				"rollingUpdate\t<RollingUpdateDeployment>", "type\t<string>",
			},
		},
		{
			args: []string{"explain", "deployment.spec.strategy.rollingUpdate.maxSurge"},
			want: []string{"FIELD: maxSurge <IntOrString>", "The maximum number of pods that can be scheduled"},
		},
		{
			args: []string{"explain", "pods.spec.containers", "--output=plaintext-openapiv2"},
			want: []string{"KIND:     Pod", "RESOURCE: containers <[]Object>", "List of containers belonging to the pod.", "image\t<string>"},
		},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, err := kubectl(t, f, tt.args...)
			if err != nil {
				t.Fatalf("kubectl %v: %v\nstderr: %s", tt.args, err, errOut)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

const deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: web:2
        ports:
        - containerPort: 8080
`

// TestKubectlApplyCreates checks client-side apply of a new object: kubectl
// asks the OpenAPI v3 document whether the server validates fields, and
// prints the object it would create.
func TestKubectlApplyCreates(t *testing.T) {
	f := newFixture(t, berthKinds(), nil)
	file := filepath.Join(t.TempDir(), "deployment.yaml")
	if err := os.WriteFile(file, []byte(deploymentYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := kubectl(t, f, "apply", "--dry-run=client", "-f", file, "-o", "yaml")
	if err != nil {
		t.Fatalf("kubectl apply: %v\nstderr: %s", err, errOut)
	}
	for _, want := range []string{"kind: Deployment", "name: web", "image: web:2", "kubectl.kubernetes.io/last-applied-configuration"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !f.requested("GET /openapi/v3/apis/apps/v1?hash=") {
		t.Errorf("kubectl did not read the apps/v1 OpenAPI v3 document; requests: %v", f.requests)
	}
}

// TestKubectlApplyPatches checks client-side apply of a change to an
// existing object: kubectl computes a strategic merge patch from the
// OpenAPI v3 document's patch metadata. Containers merge by name, so the
// sidecar that only the live object has survives the patch, and the
// changed image replaces the old one.
func TestKubectlApplyPatches(t *testing.T) {
	var applied appsv1.Deployment
	if err := yaml.Unmarshal([]byte(strings.Replace(deploymentYAML, "web:2", "web:1", 1)), &applied); err != nil {
		t.Fatal(err)
	}
	lastApplied, err := yaml.YAMLToJSON([]byte(strings.Replace(deploymentYAML, "web:2", "web:1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	live := applied.DeepCopy()
	live.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(lastApplied)}
	live.ResourceVersion = "7"
	live.Spec.Template.Spec.Containers = append(live.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "proxy:1"})
	live.TypeMeta = metav1.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"}
	f := newFixture(t, berthKinds(), map[string]any{"/apis/apps/v1/namespaces/default/deployments/web": live})

	file := filepath.Join(t.TempDir(), "deployment.yaml")
	if err := os.WriteFile(file, []byte(deploymentYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := kubectl(t, f, "apply", "--dry-run=client", "-f", file, "-o", "yaml")
	if err != nil {
		t.Fatalf("kubectl apply: %v\nstderr: %s", err, errOut)
	}
	if strings.Contains(errOut, "warning") {
		t.Errorf("kubectl warned: %s", errOut)
	}
	// Without usable patch metadata in OpenAPI v3, kubectl falls back to
	// the v2 document.
	if f.requested("GET /openapi/v2") {
		t.Errorf("kubectl fell back to OpenAPI v2 to compute the patch")
	}
	var got appsv1.Deployment
	if err := yaml.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is no Deployment: %v\n%s", err, out)
	}
	containers := map[string]string{}
	for _, c := range got.Spec.Template.Spec.Containers {
		containers[c.Name] = c.Image
	}
	if want := map[string]string{"web": "web:2", "sidecar": "proxy:1"}; fmt.Sprint(containers) != fmt.Sprint(want) {
		t.Errorf("containers after apply = %v, want %v", containers, want)
	}
}
