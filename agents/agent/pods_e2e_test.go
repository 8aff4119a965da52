package agent_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/berth-io/berth/agents/kubelet/logs"
)

// TestRealPods runs the scenarios against one cluster and agent, in
// parallel pods, then restarts the agent under the pods still running.
func TestRealPods(t *testing.T) {
	c := startCluster(t)
	t.Run("scenarios", func(t *testing.T) {
		t.Run("DeploymentAnswersHTTP", func(t *testing.T) { t.Parallel(); deploymentAnswers(t, c) })
		t.Run("EnvConfigMapSecret", func(t *testing.T) { t.Parallel(); envConfigMapSecret(t, c) })
		t.Run("CrashLoopBackOff", func(t *testing.T) { t.Parallel(); crashLoop(t, c) })
		t.Run("LivenessRestarts", func(t *testing.T) { t.Parallel(); livenessRestarts(t, c) })
		t.Run("ReadinessGatesEndpoints", func(t *testing.T) { t.Parallel(); readinessGates(t, c) })
		t.Run("JobSucceedsAndFails", func(t *testing.T) { t.Parallel(); jobs(t, c) })
		t.Run("DeletionSIGTERMAndGrace", func(t *testing.T) { t.Parallel(); deletion(t, c) })
		t.Run("InitContainersInOrder", func(t *testing.T) { t.Parallel(); initContainers(t, c) })
		t.Run("ServiceAccountToken", func(t *testing.T) { t.Parallel(); serviceAccountToken(t, c) })
		t.Run("ResourcesAndSecurityContext", func(t *testing.T) { t.Parallel(); resourcesAndSecurity(t, c) })
		t.Run("HostNetwork", func(t *testing.T) { t.Parallel(); hostNetwork(t, c) })
		t.Run("HostPort", func(t *testing.T) { t.Parallel(); hostPort(t, c) })
		t.Run("ConfigMapUpdateReachesVolume", func(t *testing.T) { t.Parallel(); configMapUpdate(t, c) })
		t.Run("ImagePullBackOff", func(t *testing.T) { t.Parallel(); imagePullBackOff(t, c) })
	})
	t.Run("AgentRestartKeepsContainers", func(t *testing.T) { agentRestart(t, c) })
}

func create(t *testing.T, c *cluster, pod *corev1.Pod) {
	t.Helper()
	if _, err := c.Admin.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func helloTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: new(int64(2)),
			Containers: []corev1.Container{{
				Name: "hello", Image: hello,
				Env:   []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
					PeriodSeconds: 1},
			}},
		},
	}
}

// A Deployment of hello becomes Running, Ready pods whose IPs answer.
func deploymentAnswers(t *testing.T, c *cluster) {
	ctx := context.Background()
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "e2e"},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: helloTemplate("web")},
	}
	if _, err := c.Admin.AppsV1().Deployments("e2e").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "2 available replicas", func() (bool, error) {
		d, err := c.Admin.AppsV1().Deployments("e2e").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 2, err
	})
	pods, err := c.Admin.CoreV1().Pods("e2e").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if !running(&p) || !ready(&p) || p.Spec.NodeName != c.node {
			t.Errorf("pod %s: phase %s ready %v node %s", p.Name, p.Status.Phase, ready(&p), p.Spec.NodeName)
			continue
		}
		body, err := httpGet("http://" + p.Status.PodIP + ":8080/")
		if err != nil || !strings.Contains(body, "hello from "+p.Name) {
			t.Errorf("pod %s at %s answered %q, %v", p.Name, p.Status.PodIP, body, err)
		}
		cs := p.Status.ContainerStatuses[0]
		if !strings.HasPrefix(cs.ContainerID, "containerd://") || cs.ImageID == "" || cs.Started == nil || !*cs.Started {
			t.Errorf("pod %s container status %+v", p.Name, cs)
		}
		if p.Status.HostIP == "" || p.Status.StartTime == nil || p.Status.QOSClass != corev1.PodQOSBestEffort {
			t.Errorf("pod %s: hostIP %q startTime %v qos %q", p.Name, p.Status.HostIP, p.Status.StartTime, p.Status.QOSClass)
		}
	}
}

// Env values, ConfigMap and Secret keys, the downward API, and ConfigMap
// and Secret volumes are what the container sees.
func envConfigMapSecret(t *testing.T, c *cluster) {
	ctx := context.Background()
	if _, err := c.Admin.CoreV1().ConfigMaps("e2e").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Data: map[string]string{"greeting": "hi there", "file.txt": "from configmap"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admin.CoreV1().Secrets("e2e").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec"},
		Data: map[string][]byte{"password": []byte("s3cret")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := c.Admin.CoreV1().Services("e2e").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "env-db"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "nothing"}, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}}}, metav1.CreateOptions{})
	if err != nil || svc.Spec.ClusterIP == "" {
		t.Fatalf("service: %v, cluster IP %q", err, svc.Spec.ClusterIP)
	}
	script := strings.Join([]string{
		`test "$ENV_DB_SERVICE_HOST" = ` + svc.Spec.ClusterIP, `test "$ENV_DB_SERVICE_PORT_PG" = 5432`, `test "$DB_URL" = "pg://` + svc.Spec.ClusterIP + `:5432"`,
		`test "$GREETING" = "hi there"`, `test "$PASSWORD" = s3cret`, `test "$PLAIN" = "x-hi there-y"`,
		`test "$MY_NAME" = env`, `test "$MY_NODE" = "` + c.node + `"`, `test -n "$MY_IP"`, `test "$MY_IP" = "$(hostname -i)"`,
		`test "$(cat /cfg/file.txt)" = "from configmap"`, `test "$(cat /sec/pw)" = s3cret`,
		`test "$(stat -c %a /sec/pw)" = 400`, `test ! -e /sec/password`, `test "$cfg_greeting" = "hi there"`,
		`echo all good`,
	}, " && ")
	pod := busyboxPod("env", script)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	ctr := &pod.Spec.Containers[0]
	ctr.Env = []corev1.EnvVar{
		{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "greeting"}}},
		{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "password"}}},
		{Name: "PLAIN", Value: "x-$(GREETING)-y"},
		{Name: "DB_URL", Value: "pg://$(ENV_DB_SERVICE_HOST):$(ENV_DB_SERVICE_PORT)"},
		{Name: "MY_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "MY_NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		{Name: "MY_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
	}
	ctr.EnvFrom = []corev1.EnvFromSource{{Prefix: "cfg_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}
	ctr.VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}, {Name: "sec", MountPath: "/sec", ReadOnly: true}}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", DefaultMode: new(int32(0o400)),
			Items: []corev1.KeyToPath{{Key: "password", Path: "pw"}}}}},
	}
	create(t, c, pod)
	p := waitPod(t, c.Admin, "e2e", "env", 30*time.Second, "finished", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("the checks inside the container failed: %s; log: %s", describe(p), c.containerLog(p, "main", 0))
	}
	if log := c.containerLog(p, "main", 0); !strings.Contains(log, "all good") {
		t.Errorf("container log %q, want it to say all good", log)
	}
	waitFor(t, 10*time.Second, "a Started event from the kubelet", func() (bool, error) {
		evs, err := c.Admin.CoreV1().Events("e2e").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=env,reason=Started"})
		return err == nil && len(evs.Items) > 0 && evs.Items[0].Source.Component == "kubelet", err
	})
	// kubectl logs: the API server asks the agent over HTTPS.
	b, err := c.Admin.CoreV1().Pods("e2e").GetLogs("env", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || string(b) != "all good\n" {
		t.Errorf("pods/log: %q, %v", b, err)
	}
}

// A crashing container restarts with a growing back-off, counting its
// restarts and saying CrashLoopBackOff meanwhile. The waits are measured
// between the runs' exit and start times from the runtime (status times
// have whole seconds only).
func crashLoop(t *testing.T, c *cluster) {
	ctx := context.Background()
	create(t, c, busyboxPod("crash", "echo crashing; exit 2"))
	type run struct{ started, finished time.Time }
	runs := map[int]run{}
	sawBackOff := false
	waitPod(t, c.Admin, "e2e", "crash", 60*time.Second, "4 restarts", func(p *corev1.Pod) bool {
		for n, r := range c.runs(p.UID, "main") {
			runs[n] = run{r[0], r[1]}
		}
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		cs := p.Status.ContainerStatuses[0]
		if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			sawBackOff = true
			if p.Status.Phase != corev1.PodRunning {
				t.Errorf("phase %s while in CrashLoopBackOff, want Running", p.Status.Phase)
			}
		}
		if term := cs.LastTerminationState.Terminated; term != nil && (term.ExitCode != 2 || term.Reason != "Error") {
			t.Errorf("last termination %+v, want exit code 2, reason Error", term)
		}
		return cs.RestartCount >= 4 && len(runs) >= 5
	})
	if !sawBackOff {
		t.Error("never saw the container waiting in CrashLoopBackOff")
	}
	// Runs older than the newest two are removed, with their logs.
	waitFor(t, 10*time.Second, "the first run's log to be removed", func() (bool, error) {
		p, err := c.Admin.CoreV1().Pods("e2e").Get(ctx, "crash", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		first := filepath.Join(logs.PodDir(filepath.Join(c.dataDir, "agent", "logs"), p.Namespace, p.Name, p.UID), logs.ContainerFile("main", 0))
		_, err = os.Stat(first)
		return os.IsNotExist(err), err
	})
	// The wait before run n+1 is 0 after the first exit, then Initial
	// doubling; noticing the exit and starting again adds a little (0.2 s
	// on a quiet machine, seconds when it is busy).
	for n := 0; n < 4; n++ {
		wait := runs[n+1].started.Sub(runs[n].finished)
		want := testBackoff.Delay(n)
		if wait < want || wait > want+5*time.Second {
			t.Errorf("run %d started %s after run %d ended, want %s (+ up to 5s on a busy machine); runs %v", n+1, wait, n, want, runs)
		}
	}
	if b, err := c.Admin.CoreV1().Pods("e2e").GetLogs("crash", &corev1.PodLogOptions{Previous: true}).DoRaw(ctx); err != nil || string(b) != "crashing\n" {
		t.Errorf("pods/log --previous: %q, %v", b, err)
	}
}

// A failing liveness probe restarts the container.
func livenessRestarts(t *testing.T, c *cluster) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "unhealthy", Namespace: "e2e"},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: new(int64(1)), Containers: []corev1.Container{{
			Name: "hello", Image: hello, Env: []corev1.EnvVar{{Name: "UNHEALTHY", Value: "true"}},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
				PeriodSeconds: 1, FailureThreshold: 2},
		}}},
	}
	create(t, c, pod)
	p := waitPod(t, c.Admin, "e2e", "unhealthy", 60*time.Second, "a restart", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if term := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; term == nil {
		t.Errorf("no last termination after a liveness restart: %s", describe(p))
	}
}

// Readiness decides Ready and EndpointSlice membership.
func readinessGates(t *testing.T, c *cluster) {
	ctx := context.Background()
	pod := busyboxPod("ready", `trap 'exit 0' TERM; while true; do if [ -e /tmp/go ]; then touch /tmp/ready; fi; sleep 0.1; done`)
	pod.Labels = map[string]string{"app": "ready"}
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ready"}}}, PeriodSeconds: 1}
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}}
	if _, err := c.Admin.CoreV1().Services("e2e").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ready"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "ready"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	create(t, c, pod)
	endpoint := func() (bool, bool, error) {
		slices, err := c.Admin.DiscoveryV1().EndpointSlices("e2e").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=ready"})
		if err != nil {
			return false, false, err
		}
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				return true, e.Conditions.Ready != nil && *e.Conditions.Ready, nil
			}
		}
		return false, false, nil
	}
	waitFor(t, 30*time.Second, "a not-ready endpoint", func() (bool, error) {
		found, isReady, err := endpoint()
		return found && !isReady, err
	})
	p, err := c.Admin.CoreV1().Pods("e2e").Get(ctx, "ready", metav1.GetOptions{})
	if err != nil || !running(p) || ready(p) {
		t.Fatalf("before readiness: %v running %v ready %v", err, p != nil && running(p), p != nil && ready(p))
	}
	c.exec(t, p, "touch", "/tmp/go")
	waitPod(t, c.Admin, "e2e", "ready", 20*time.Second, "Ready", ready)
	waitFor(t, 20*time.Second, "a ready endpoint", func() (bool, error) {
		found, isReady, err := endpoint()
		return found && isReady, err
	})
}

// A Job's pod runs to Succeeded; another's to Failed with its exit code.
func jobs(t *testing.T, c *cluster) {
	ctx := context.Background()
	job := func(name, script string) *batchv1.Job {
		tpl := busyboxPod("", script)
		tpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "e2e"},
			Spec: batchv1.JobSpec{BackoffLimit: new(int32(0)), Template: corev1.PodTemplateSpec{Spec: tpl.Spec}}}
	}
	bad := job("bad", "echo failing; exit 3")
	bad.Spec.Template.Spec.Containers[0].TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	for _, j := range []*batchv1.Job{job("ok", "echo working; printf done > /dev/termination-log; exit 0"), bad} {
		if _, err := c.Admin.BatchV1().Jobs("e2e").Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	podOf := func(job string, phase corev1.PodPhase) *corev1.Pod {
		var pod *corev1.Pod
		waitFor(t, 60*time.Second, "the pod of job "+job+" to be "+string(phase), func() (bool, error) {
			pods, err := c.Admin.CoreV1().Pods("e2e").List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
			if err != nil || len(pods.Items) == 0 {
				return false, err
			}
			pod = &pods.Items[0]
			return pod.Status.Phase == phase, fmt.Errorf("phase %s %s", pod.Status.Phase, describe(pod))
		})
		return pod
	}
	ok := podOf("ok", corev1.PodSucceeded)
	if term := ok.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" || term.Message != "done" {
		t.Errorf("succeeded pod: %s; want Completed with the message from /dev/termination-log: %+v", describe(ok), term)
	}
	failed := podOf("bad", corev1.PodFailed)
	if term := failed.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 3 || term.Reason != "Error" || term.Message != "failing\n" {
		t.Errorf("failed pod: %s; want Error, exit code 3, the end of its log as message: %+v", describe(failed), term)
	}
	waitFor(t, 30*time.Second, "job bad to fail", func() (bool, error) {
		j, err := c.Admin.BatchV1().Jobs("e2e").Get(ctx, "bad", metav1.GetOptions{})
		return err == nil && j.Status.Failed == 1, err
	})
}

// Deleting a pod delivers SIGTERM; a container that ignores it is killed
// after the grace period, and only then is the pod gone.
func deletion(t *testing.T, c *cluster) {
	ctx := context.Background()
	dir := t.TempDir()
	polite := busyboxPod("polite", `trap 'echo TERM >> /out/log; exit 0' TERM; while true; do sleep 0.1; done`)
	polite.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo preStop >> /out/log"}}}}
	polite.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "out", MountPath: "/out"}}
	polite.Spec.Volumes = []corev1.Volume{{Name: "out", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}}}
	stubborn := busyboxPod("stubborn", `trap '' TERM; while true; do sleep 0.1; done`)
	stubborn.Spec.TerminationGracePeriodSeconds = new(int64(3))
	create(t, c, polite)
	create(t, c, stubborn)
	var politeUID types.UID
	for _, name := range []string{"polite", "stubborn"} {
		p := waitPod(t, c.Admin, "e2e", name, 30*time.Second, "running", running)
		if name == "polite" {
			politeUID = p.UID
		}
	}
	podCgroup := filepath.Join("/sys/fs/cgroup/memory", c.cfg.CgroupRoot, "pod"+string(politeUID))
	if _, err := os.Stat(podCgroup); err != nil {
		t.Fatalf("the running pod's cgroup: %v", err)
	}
	gone := func(name string) func() (bool, error) {
		return func() (bool, error) {
			_, err := c.Admin.CoreV1().Pods("e2e").Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	w, err := c.Admin.CoreV1().Pods("e2e").Watch(wctx, metav1.ListOptions{FieldSelector: "metadata.name=polite"})
	if err != nil {
		t.Fatal(err)
	}
	lastPhase := make(chan corev1.PodPhase, 1)
	go func() {
		var phase corev1.PodPhase
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok {
				phase = p.Status.Phase
				if ev.Type == watch.Deleted {
					break
				}
			}
		}
		lastPhase <- phase
	}()
	if err := c.Admin.CoreV1().Pods("e2e").Delete(ctx, "polite", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Admin.CoreV1().Pods("e2e").Delete(ctx, "stubborn", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "pod polite to be gone", gone("polite"))
	w.Stop()
	// As kubelet since 1.27, the agent reports the end before deleting.
	if phase := <-lastPhase; phase != corev1.PodSucceeded {
		t.Errorf("last phase before deletion %q, want Succeeded (the container exited 0 on SIGTERM)", phase)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "log")); err != nil || string(b) != "preStop\nTERM\n" {
		t.Errorf("the container's log of its end: %q, %v; want the preStop hook, then SIGTERM", b, err)
	}
	for _, left := range []string{podCgroup, filepath.Join(c.dataDir, "agent", "pods", string(politeUID))} {
		if _, err := os.Stat(left); !os.IsNotExist(err) {
			t.Errorf("%s is left after the pod was deleted (%v)", left, err)
		}
	}
	waitFor(t, 20*time.Second, "pod stubborn to be gone", gone("stubborn"))
	if took := time.Since(start); took < 3*time.Second || took > 10*time.Second {
		t.Errorf("stubborn pod gone after %s, want its 3s grace period", took)
	}
}

// A restarted agent adopts the running containers: same container IDs,
// no restarts.
func agentRestart(t *testing.T, c *cluster) {
	ctx := context.Background()
	before, err := c.Admin.CoreV1().Pods("e2e").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(before.Items) == 0 {
		t.Fatalf("no web pods: %v", err)
	}
	create(t, c, busyboxPod("deleted-while-down", `trap 'exit 0' TERM; while true; do sleep 0.1; done`))
	create(t, c, busyboxPod("forced-while-down", `trap 'exit 0' TERM; while true; do sleep 0.1; done`))
	deleted := waitPod(t, c.Admin, "e2e", "deleted-while-down", 30*time.Second, "running", running)
	forced := waitPod(t, c.Admin, "e2e", "forced-while-down", 30*time.Second, "running", running)
	c.stopAgent()
	if err := c.Admin.CoreV1().Pods("e2e").Delete(ctx, deleted.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Admin.CoreV1().Pods("e2e").Delete(ctx, forced.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	c.startAgent()
	// The adopted web pods stay Ready all along (their readiness probes
	// start afresh in the new agent).
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, old := range before.Items {
			p, err := c.Admin.CoreV1().Pods("e2e").Get(ctx, old.Name, metav1.GetOptions{})
			if err != nil || !ready(p) {
				t.Fatalf("pod %s not ready after the agent restart: %v", old.Name, err)
			}
		}
	}
	// The pod deleted gracefully is stopped and its deletion finished; the
	// one removed by force leaves a sandbox without a pod: removed too.
	waitFor(t, 30*time.Second, "the pod deleted while the agent was down to be gone", func() (bool, error) {
		_, err := c.Admin.CoreV1().Pods("e2e").Get(ctx, deleted.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	for _, p := range []*corev1.Pod{deleted, forced} {
		waitFor(t, 30*time.Second, "no sandbox of "+p.Name, func() (bool, error) {
			n, err := c.sandboxes(p.UID)
			return n == 0, fmt.Errorf("%d sandboxes, %v", n, err)
		})
	}
	for _, old := range before.Items {
		p := waitPod(t, c.Admin, "e2e", old.Name, 20*time.Second, "running and ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
		was, now := old.Status.ContainerStatuses[0], p.Status.ContainerStatuses[0]
		if was.ContainerID != now.ContainerID || now.RestartCount != was.RestartCount {
			t.Errorf("pod %s: container %s (restarts %d) became %s (restarts %d)", p.Name, was.ContainerID, was.RestartCount, now.ContainerID, now.RestartCount)
		}
		if _, err := httpGet("http://" + p.Status.PodIP + ":8080/"); err != nil {
			t.Errorf("pod %s after the agent restart: %v", p.Name, err)
		}
	}
}

// Init containers run one after the other, to completion, before the app
// container starts.
func initContainers(t *testing.T, c *cluster) {
	pod := busyboxPod("init", `test "$(cat /work/order)" = "one two" && trap 'exit 0' TERM && while true; do sleep 0.1; done`)
	pod.Spec.Volumes = []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mount := []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}
	pod.Spec.Containers[0].VolumeMounts = mount
	for _, name := range []string{"one", "two"} {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: name, Image: busybox, ImagePullPolicy: corev1.PullIfNotPresent,
			Command:      []string{"sh", "-c", `sleep 0.3; printf "%s" "$(cat /work/order 2>/dev/null) ` + name + `" | sed 's/^ //' > /work/order.new && mv /work/order.new /work/order`},
			VolumeMounts: mount})
	}
	create(t, c, pod)
	p := waitPod(t, c.Admin, "e2e", "init", 30*time.Second, "running", running)
	for _, cs := range p.Status.InitContainerStatuses {
		if term := cs.State.Terminated; term == nil || term.Reason != "Completed" || !cs.Ready {
			t.Errorf("init container %s: %s", cs.Name, describe(p))
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodInitialized && cond.Status != corev1.ConditionTrue {
			t.Errorf("Initialized is %s", cond.Status)
		}
	}
}

// A projected ServiceAccount token volume (what ServiceAccount admission
// injects) holds a token for the pod's ServiceAccount, the cluster CA and
// the namespace.
func serviceAccountToken(t *testing.T, c *cluster) {
	const dir = "/var/run/secrets/kubernetes.io/serviceaccount"
	pod := busyboxPod("token", `test -s `+dir+`/token && grep -q "BEGIN CERTIFICATE" `+dir+`/ca.crt && test "$(cat `+dir+`/namespace)" = e2e && echo token ok`)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "kube-api-access", MountPath: dir, ReadOnly: true}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: new(int32(0o644)),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: new(int64(3607))}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}}}}
	create(t, c, pod)
	p := waitPod(t, c.Admin, "e2e", "token", 40*time.Second, "finished", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("token checks failed: %s; log: %s", describe(p), c.containerLog(p, "main", 0))
	}
}

// Resources become cgroup limits; the security context sets the user,
// a read-only root file system and capabilities.
func resourcesAndSecurity(t *testing.T, c *cluster) {
	script := strings.Join([]string{
		`test "$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" = 67108864`,
		`test "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)" = 50000`,
		`test "$(cat /sys/fs/cgroup/cpu/cpu.shares)" = 256`,
		`test "$(id -u)" = 1000`, `test "$(id -g)" = 3000`,
		`! touch /rootfs-is-read-only 2>/dev/null`,
		`touch /scratch/writable`,
		`grep -q " /mem tmpfs " /proc/mounts`, `touch /mem/writable`,
		`echo limits ok`,
	}, " && ")
	pod := busyboxPod("limits", script)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsGroup: new(int64(3000))}
	ctr := &pod.Spec.Containers[0]
	ctr.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
	ctr.SecurityContext = &corev1.SecurityContext{RunAsUser: new(int64(1000)), ReadOnlyRootFilesystem: new(true),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	ctr.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}, {Name: "mem", MountPath: "/mem"}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
	create(t, c, pod)
	p := waitPod(t, c.Admin, "e2e", "limits", 30*time.Second, "finished", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("limit checks failed: %s; log: %s", describe(p), c.containerLog(p, "main", 0))
	}
	if p.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass %q, want Burstable", p.Status.QOSClass)
	}
}

// A hostNetwork pod shares the node's network: its IP is the node's.
func hostNetwork(t *testing.T, c *cluster) {
	pod := busyboxPod("hostnet", `trap 'exit 0' TERM; while true; do sleep 0.1; done`)
	pod.Spec.HostNetwork = true
	create(t, c, pod)
	p := waitPod(t, c.Admin, "e2e", "hostnet", 30*time.Second, "running", running)
	if p.Status.PodIP != c.cfg.NodeIP || p.Status.HostIP != c.cfg.NodeIP {
		t.Errorf("hostNetwork pod IP %q host IP %q, want the node's %q", p.Status.PodIP, p.Status.HostIP, c.cfg.NodeIP)
	}
	if err := c.Admin.CoreV1().Pods("e2e").Delete(context.Background(), "hostnet", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the hostNetwork pod to be gone", func() (bool, error) {
		_, err := c.Admin.CoreV1().Pods("e2e").Get(context.Background(), "hostnet", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}

// An image that cannot be had says ErrImagePull, then ImagePullBackOff.
func imagePullBackOff(t *testing.T, c *cluster) {
	pod := busyboxPod("nopull")
	pod.Spec.Containers[0].Image = "localhost/no-such-image:v1"
	create(t, c, pod)
	p := waitPod(t, c.Admin, "e2e", "nopull", 30*time.Second, "ImagePullBackOff", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "ImagePullBackOff"
	})
	if w := p.Status.ContainerStatuses[0].State.Waiting; !strings.Contains(w.Message, "localhost/no-such-image:v1") || p.Status.Phase != corev1.PodPending {
		t.Errorf("waiting %+v in phase %s; want a message naming the image, Pending", w, p.Status.Phase)
	}
}

// A container port with a hostPort answers on the node's address.
func hostPort(t *testing.T, c *cluster) {
	port := int32(30000 + rand.IntN(2000))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hostport", Namespace: "e2e"},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: new(int64(1)), Containers: []corev1.Container{{
			Name: "hello", Image: hello, Env: []corev1.EnvVar{{Name: "POD_NAME", Value: "hostport"}},
			Ports: []corev1.ContainerPort{{ContainerPort: 8080, HostPort: port}},
		}}},
	}
	create(t, c, pod)
	waitPod(t, c.Admin, "e2e", "hostport", 30*time.Second, "running", running)
	url := fmt.Sprintf("http://%s:%d/", c.cfg.NodeIP, port)
	waitFor(t, 10*time.Second, "an answer on the host port", func() (bool, error) {
		body, err := httpGet(url)
		return err == nil && strings.Contains(body, "hello from hostport"), err
	})
}

// A ConfigMap's new content reaches the running container's volume.
func configMapUpdate(t *testing.T, c *cluster) {
	ctx := context.Background()
	cms := c.Admin.CoreV1().ConfigMaps("e2e")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Data: map[string]string{"v": "one"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := busyboxPod("live", `trap 'exit 0' TERM; while true; do sleep 0.1; done`)
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "live"}}}}}
	create(t, c, pod)
	p := waitPod(t, c.Admin, "e2e", "live", 30*time.Second, "running", running)
	if got := c.output(t, p, "cat", "/cfg/v"); got != "one" {
		t.Fatalf("/cfg/v = %q, want one", got)
	}
	if _, err := cms.Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Data: map[string]string{"v": "two"}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the new ConfigMap content in the container", func() (bool, error) {
		got := c.output(t, p, "cat", "/cfg/v")
		return got == "two", fmt.Errorf("/cfg/v = %q", got)
	})
}
