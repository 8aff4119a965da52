package job

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

const (
	ns = "batch"
	// testBackoff is the first retry delay. Pod times have a resolution of
	// a second, so shorter delays could not be told from none.
	testBackoff = time.Second
)

// cluster is an API server with the Job controller running as the
// controller manager; the test plays the kubelet through Admin.
type cluster struct {
	*servertest.Server
	t *testing.T
}

func start(t *testing.T) *cluster {
	t.Helper()
	s := servertest.Start(t)
	client := s.ClientAs(server.ControllerManagerUser)
	factory := informers.NewSharedInformerFactory(client, 0)
	events := record.NewBroadcaster()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "job-controller"})
	c, err := New(client, factory, recorder, Options{
		Backoff: testBackoff, MaxBackoff: 4 * testBackoff,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(events.Shutdown)
	t.Cleanup(factory.Shutdown)
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)
	s.Namespace(ns)
	return &cluster{Server: s, t: t}
}

// newJob is a job of one container that the test finishes by hand.
func newJob(name string, modify func(*batchv1.JobSpec)) *batchv1.Job {
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "work", Image: "busybox"}},
			}},
		},
	}
	if modify != nil {
		modify(&job.Spec)
	}
	return job
}

func (c *cluster) create(job *batchv1.Job) *batchv1.Job {
	c.t.Helper()
	created, err := c.Admin.BatchV1().Jobs(ns).Create(context.Background(), job, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatalf("creating job %s: %v", job.Name, err)
	}
	return created
}

func (c *cluster) job(name string) *batchv1.Job {
	c.t.Helper()
	job, err := c.Admin.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatalf("reading job %s: %v", name, err)
	}
	return job
}

// pods lists the pods of job, by its generated controller-uid label.
func (c *cluster) pods(job *batchv1.Job) []corev1.Pod {
	c.t.Helper()
	list, err := c.Admin.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: batchv1.ControllerUidLabel + "=" + string(job.UID)})
	if err != nil {
		c.t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].CreationTimestamp.Before(&list.Items[j].CreationTimestamp) })
	return list.Items
}

// activePods are the pods of job neither finished nor being deleted.
func (c *cluster) activePods(job *batchv1.Job) []corev1.Pod {
	return slices.DeleteFunc(c.pods(job), func(p corev1.Pod) bool { return !isActive(&p) })
}

// eventually polls cond until it holds.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	}); err != nil {
		c.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitActive waits until job has n active pods and returns them.
func (c *cluster) waitActive(job *batchv1.Job, n int) []corev1.Pod {
	c.t.Helper()
	var active []corev1.Pod
	c.eventually(fmt.Sprintf("%d active pods of %s", n, job.Name), func() bool {
		active = c.activePods(job)
		return len(active) == n
	})
	return active
}

// finish plays the kubelet: the pod's container exits with code. It
// returns the finish time as the API stores it, to the second.
func (c *cluster) finish(p corev1.Pod, code int32) time.Time {
	c.t.Helper()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	c.setStatus(p, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodSucceeded
		if code != 0 {
			s.Phase = corev1.PodFailed
		}
		s.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "work", Image: "busybox",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: now, FinishedAt: now}},
		}}
		s.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now}}
	})
	return now.Time
}

// run plays the kubelet: the pod runs and is ready.
func (c *cluster) run(p corev1.Pod) {
	c.t.Helper()
	c.setStatus(p, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodRunning
		s.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	})
}

// setStatus writes p's status as change makes it, on a fresh copy (the
// controller may patch the pod meanwhile).
func (c *cluster) setStatus(p corev1.Pod, change func(*corev1.PodStatus)) {
	c.t.Helper()
	pods := c.Admin.CoreV1().Pods(ns)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := pods.Get(context.Background(), p.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(&pod.Status)
		_, err = pods.UpdateStatus(context.Background(), pod, metav1.UpdateOptions{})
		return err
	}); err != nil {
		c.t.Fatalf("setting the status of pod %s: %v", p.Name, err)
	}
}

// waitCondition waits for job's condition t to be True and returns the job.
func (c *cluster) waitCondition(name string, t batchv1.JobConditionType) *batchv1.Job {
	c.t.Helper()
	var job *batchv1.Job
	c.eventually(fmt.Sprintf("job %s %s", name, t), func() bool {
		job = c.job(name)
		return condition(job.Status.Conditions, t) != nil
	})
	return job
}

// events are the reasons of the events recorded on the job named name.
func (c *cluster) events(name string) []string {
	c.t.Helper()
	list, err := c.Admin.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	var reasons []string
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "Job" && e.InvolvedObject.Name == name {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

func TestJobRunsCompletionsWithParallelism(t *testing.T) {
	c := start(t)
	job := c.create(newJob("pi", func(s *batchv1.JobSpec) {
		s.Completions, s.Parallelism = ptr.To[int32](5), ptr.To[int32](2)
	}))
	finished := 0
	for finished < 5 {
		want := min(2, 5-finished)
		active := c.waitActive(job, want)
		if n := len(c.activePods(job)); n > 2 {
			t.Fatalf("%d pods run at once, parallelism is 2", n)
		}
		for _, p := range active {
			if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != job.UID || ref.Kind != "Job" {
				t.Fatalf("pod %s is not controlled by its job: %v", p.Name, p.OwnerReferences)
			}
			if !tracked(&p) || p.Labels[batchv1.JobNameLabel] != "pi" {
				t.Fatalf("pod %s lacks the tracking finalizer or the job labels: %v %v", p.Name, p.Finalizers, p.Labels)
			}
		}
		c.run(active[0])
		c.eventually("one ready pod", func() bool { return ptr.Deref(c.job("pi").Status.Ready, 0) == 1 })
		c.finish(active[0], 0)
		finished++
		c.eventually(fmt.Sprintf("%d succeeded", finished), func() bool { return c.job("pi").Status.Succeeded == int32(finished) })
	}
	done := c.waitCondition("pi", batchv1.JobComplete)
	st := done.Status
	if st.Succeeded != 5 || st.Failed != 0 || st.Active != 0 || st.CompletionTime == nil || st.StartTime == nil ||
		condition(st.Conditions, batchv1.JobSuccessCriteriaMet) == nil {
		t.Errorf("status of the complete job: %+v", st)
	}
	if c := condition(st.Conditions, batchv1.JobComplete); c.Reason != batchv1.JobReasonCompletionsReached {
		t.Errorf("Complete condition %+v", c)
	}
	pods := c.pods(job)
	if len(pods) != 5 {
		t.Errorf("%d pods ran, want exactly 5", len(pods))
	}
	for _, p := range pods {
		if tracked(&p) {
			t.Errorf("pod %s still carries the tracking finalizer after the job completed", p.Name)
		}
	}
	c.eventually("Completed and SuccessfulCreate events", func() bool {
		ev := c.events("pi")
		return slices.Contains(ev, "Completed") && slices.Contains(ev, "SuccessfulCreate")
	})
}

func TestIndexedJobRunsEachIndexOnce(t *testing.T) {
	c := start(t)
	job := c.create(newJob("idx", func(s *batchv1.JobSpec) {
		s.Completions, s.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
		s.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	}))
	byIndex := map[int]corev1.Pod{}
	for _, p := range c.waitActive(job, 3) {
		ix := completionIndex(&p)
		byIndex[ix] = p
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != strconv.Itoa(ix) || p.Spec.Hostname != fmt.Sprintf("idx-%d", ix) {
			t.Errorf("pod %s of index %d: labels %v, hostname %q", p.Name, ix, p.Labels, p.Spec.Hostname)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != completionIndexEnv || env[0].ValueFrom == nil || env[0].ValueFrom.FieldRef == nil {
			t.Errorf("pod %s lacks %s: %+v", p.Name, completionIndexEnv, env)
		}
	}
	if len(byIndex) != 3 || byIndex[0].Name == "" || byIndex[1].Name == "" || byIndex[2].Name == "" {
		t.Fatalf("indexes of the first pods: %v", byIndex)
	}
	c.finish(byIndex[0], 0)
	c.finish(byIndex[2], 0)
	c.eventually("indexes 0 and 2 completed", func() bool { return c.job("idx").Status.CompletedIndexes == "0,2" })
	// Index 1 fails once and is run again, with the same index.
	c.finish(byIndex[1], 1)
	var again corev1.Pod
	c.eventually("a new pod for index 1", func() bool {
		active := c.activePods(job)
		if len(active) == 1 {
			again = active[0]
		}
		return len(active) == 1
	})
	if completionIndex(&again) != 1 || again.Name == byIndex[1].Name {
		t.Fatalf("replacement %s has index %d", again.Name, completionIndex(&again))
	}
	c.finish(again, 0)
	done := c.waitCondition("idx", batchv1.JobComplete)
	if done.Status.CompletedIndexes != "0-2" || done.Status.Succeeded != 3 || done.Status.Failed != 1 {
		t.Errorf("status: completedIndexes %q, succeeded %d, failed %d", done.Status.CompletedIndexes, done.Status.Succeeded, done.Status.Failed)
	}
}

func TestJobFailsPastItsBackoffLimitAfterBackingOff(t *testing.T) {
	c := start(t)
	job := c.create(newJob("flaky", func(s *batchv1.JobSpec) { s.BackoffLimit = ptr.To[int32](2) }))
	var failedAt time.Time
	for attempt := range 3 {
		pod := c.waitActive(job, 1)[0]
		if attempt > 0 {
			// The n-th retry waits testBackoff * 2^(n-1) after the failure.
			wait := testBackoff << (attempt - 1)
			if gap := time.Since(failedAt); gap < wait {
				t.Errorf("retry %d seen %v after the failure, want at least %v", attempt, gap, wait)
			}
		}
		failedAt = c.finish(pod, 1)
	}
	done := c.waitCondition("flaky", batchv1.JobFailed)
	if c := condition(done.Status.Conditions, batchv1.JobFailed); c.Reason != batchv1.JobReasonBackoffLimitExceeded {
		t.Errorf("Failed condition %+v", c)
	}
	if condition(done.Status.Conditions, batchv1.JobFailureTarget) == nil || done.Status.Failed != 3 || done.Status.CompletionTime != nil {
		t.Errorf("status of the failed job: %+v", done.Status)
	}
	if n := len(c.pods(job)); n != 3 {
		t.Errorf("%d pods after the job failed, want the 3 that ran", n)
	}
	if ev := c.events("flaky"); !slices.Contains(ev, batchv1.JobReasonBackoffLimitExceeded) {
		t.Errorf("no BackoffLimitExceeded event: %v", ev)
	}
}

func TestJobStopsAtItsActiveDeadline(t *testing.T) {
	c := start(t)
	job := c.create(newJob("slow", func(s *batchv1.JobSpec) {
		s.Parallelism, s.Completions = ptr.To[int32](2), ptr.To[int32](2)
		s.ActiveDeadlineSeconds = ptr.To[int64](1)
	}))
	for _, p := range c.waitActive(job, 2) {
		c.run(p)
	}
	done := c.waitCondition("slow", batchv1.JobFailed)
	if cond := condition(done.Status.Conditions, batchv1.JobFailed); cond.Reason != batchv1.JobReasonDeadlineExceeded {
		t.Errorf("Failed condition %+v", cond)
	}
	if elapsed := condition(done.Status.Conditions, batchv1.JobFailed).LastTransitionTime.Sub(done.Status.StartTime.Time); elapsed < time.Second {
		t.Errorf("the job failed %v after it started, before its deadline of 1s", elapsed)
	}
	if done.Status.Active != 0 || done.Status.Failed != 2 {
		t.Errorf("the running pods must be stopped and counted as failed: %+v", done.Status)
	}
	c.eventually("the stopped pods gone", func() bool { return len(c.pods(job)) == 0 })
}

func TestSuspendedJobRunsNothingUntilResumed(t *testing.T) {
	c := start(t)
	job := c.create(newJob("later", func(s *batchv1.JobSpec) {
		s.Parallelism, s.Completions = ptr.To[int32](2), ptr.To[int32](2)
		s.Suspend = ptr.To(true)
	}))
	suspended := c.waitCondition("later", batchv1.JobSuspended)
	if suspended.Status.StartTime != nil || len(c.pods(job)) != 0 {
		t.Fatalf("a suspended job starts nothing: %+v, %d pods", suspended.Status, len(c.pods(job)))
	}
	resume := func(suspend bool) {
		t.Helper()
		// The controller writes the status meanwhile: retry on conflicts.
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			j := c.job("later")
			j.Spec.Suspend = ptr.To(suspend)
			_, err := c.Admin.BatchV1().Jobs(ns).Update(context.Background(), j, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	resume(false)
	c.waitActive(job, 2)
	c.eventually("Suspended=False JobResumed with a start time", func() bool {
		st := c.job("later").Status
		i := slices.IndexFunc(st.Conditions, func(c batchv1.JobCondition) bool { return c.Type == batchv1.JobSuspended })
		return i >= 0 && st.Conditions[i].Status == corev1.ConditionFalse && st.Conditions[i].Reason == "JobResumed" && st.StartTime != nil
	})
	resume(true)
	c.eventually("pods deleted on suspend", func() bool { return len(c.pods(job)) == 0 })
	c.waitCondition("later", batchv1.JobSuspended)
	// The status catches up with the deletions in a later sync.
	c.eventually("no active pods counted", func() bool { return c.job("later").Status.Active == 0 })
	if st := c.job("later").Status; st.Failed != 0 {
		t.Errorf("pods deleted by a suspension are not failures: %+v", st)
	}
	resume(false)
	for _, p := range c.waitActive(job, 2) {
		c.finish(p, 0)
	}
	c.waitCondition("later", batchv1.JobComplete)
	ev := c.events("later")
	if !slices.Contains(ev, "Suspended") || !slices.Contains(ev, "Resumed") {
		t.Errorf("events %v lack Suspended/Resumed", ev)
	}
}

func TestFinishedJobIsDeletedAfterItsTTL(t *testing.T) {
	c := start(t)
	job := c.create(newJob("brief", func(s *batchv1.JobSpec) { s.TTLSecondsAfterFinished = ptr.To[int32](1) }))
	c.finish(c.waitActive(job, 1)[0], 0)
	done := c.waitCondition("brief", batchv1.JobComplete)
	finishedAt := condition(done.Status.Conditions, batchv1.JobComplete).LastTransitionTime.Time
	var deleting time.Time
	c.eventually("the job deleted", func() bool {
		j, err := c.Admin.BatchV1().Jobs(ns).Get(context.Background(), "brief", metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			deleting = time.Now()
			return true
		case err == nil && j.DeletionTimestamp != nil:
			// Foreground deletion: the garbage collector removes it after
			// its pods.
			deleting = j.DeletionTimestamp.Time
			return true
		}
		return false
	})
	if deleting.Before(finishedAt.Add(time.Second - 10*time.Millisecond)) {
		t.Errorf("deleted at %v, before the TTL of 1s after %v", deleting, finishedAt)
	}
}

func TestDeletedJobLetsGoOfItsPods(t *testing.T) {
	c := start(t)
	job := c.create(newJob("gone", func(s *batchv1.JobSpec) { s.Parallelism = ptr.To[int32](2) }))
	c.waitActive(job, 2)
	// In the background the job goes at once, its pods are left for the
	// garbage collector, which cannot delete them while they are tracked.
	background := metav1.DeletePropagationBackground
	if err := c.Admin.BatchV1().Jobs(ns).Delete(context.Background(), "gone", metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		t.Fatal(err)
	}
	c.eventually("the tracking finalizers removed", func() bool {
		pods := c.pods(job)
		return len(pods) == 2 && !slices.ContainsFunc(pods, func(p corev1.Pod) bool { return tracked(&p) })
	})
}
