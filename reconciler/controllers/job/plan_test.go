package job

import (
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testJob is a started NonIndexed job; mods adjust it.
func testJob(mods ...func(*batchv1.Job)) *batchv1.Job {
	start := metav1.NewTime(t0.Add(-time.Minute))
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", UID: "job-uid"},
		Spec: batchv1.JobSpec{
			Parallelism:  ptr.To[int32](2),
			Completions:  ptr.To[int32](4),
			BackoffLimit: ptr.To[int32](6),
			Template:     corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever}},
		},
		Status: batchv1.JobStatus{StartTime: &start, UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{}},
	}
	for _, m := range mods {
		m(job)
	}
	return job
}

func indexed(job *batchv1.Job) { job.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion) }

// testPod is a tracked pod of the job named name (its UID too) in phase.
func testPod(name string, phase corev1.PodPhase, mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name), Finalizers: []string{batchv1.JobTrackingFinalizer},
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Minute))},
		Status: corev1.PodStatus{Phase: phase},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func untracked(p *corev1.Pod) { p.Finalizers = nil }
func ready(p *corev1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
}
func deleting(p *corev1.Pod) { ts := metav1.NewTime(t0); p.DeletionTimestamp = &ts }
func onNode(p *corev1.Pod)   { p.Spec.NodeName = "n1" }
func index(ix string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		metav1.SetMetaDataAnnotation(&p.ObjectMeta, batchv1.JobCompletionIndexAnnotation, ix)
	}
}

func names(pods []*corev1.Pod) []string {
	out := []string{}
	for _, p := range pods {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func hasCondition(st batchv1.JobStatus, t batchv1.JobConditionType, reason string) bool {
	c := condition(st.Conditions, t)
	return c != nil && c.Reason == reason
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name      string
		job       *batchv1.Job
		pods      []*corev1.Pod
		backoff   backoff
		mayManage bool
		check     func(t *testing.T, d decision)
	}{{
		name:      "a new job starts parallelism pods and its clock",
		job:       testJob(func(j *batchv1.Job) { j.Status = batchv1.JobStatus{} }),
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !slices.Equal(d.create, []int{noIndex, noIndex}) || d.status.Active != 2 {
				t.Errorf("create %v, active %d; want two pods", d.create, d.status.Active)
			}
			if d.status.StartTime == nil || !d.status.StartTime.Time.Equal(t0) {
				t.Errorf("startTime %v, want now", d.status.StartTime)
			}
		},
	}, {
		name:      "a success is recorded as uncounted and replaced",
		job:       testJob(),
		pods:      []*corev1.Pod{testPod("a", corev1.PodSucceeded), testPod("b", corev1.PodRunning, ready)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !slices.Equal(d.status.UncountedTerminatedPods.Succeeded, []types.UID{"a"}) || d.status.Succeeded != 0 {
				t.Errorf("uncounted %v, succeeded %d", d.status.UncountedTerminatedPods, d.status.Succeeded)
			}
			if !slices.Equal(names(d.untrack), []string{"a"}) || len(d.create) != 1 || d.status.Active != 2 || *d.status.Ready != 1 {
				t.Errorf("untrack %v, create %v, active %d, ready %d", names(d.untrack), d.create, d.status.Active, *d.status.Ready)
			}
		},
	}, {
		name: "uncounted pods without finalizer are counted",
		job: testJob(func(j *batchv1.Job) {
			j.Status.Succeeded, j.Status.Failed = 1, 1
			j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"a", "gone"}, Failed: []types.UID{"f"}}
		}),
		pods:      []*corev1.Pod{testPod("a", corev1.PodSucceeded, untracked), testPod("f", corev1.PodFailed), testPod("b", corev1.PodRunning)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			u := d.status.UncountedTerminatedPods
			if d.status.Succeeded != 3 || d.status.Failed != 1 || len(u.Succeeded) != 0 || !slices.Equal(u.Failed, []types.UID{"f"}) {
				t.Errorf("succeeded %d, failed %d, uncounted %+v", d.status.Succeeded, d.status.Failed, u)
			}
			if !slices.Equal(names(d.untrack), []string{"f"}) {
				t.Errorf("a recorded pod that kept its finalizer is untracked again, not recounted: untrack %v", names(d.untrack))
			}
		},
	}, {
		name:      "reaching completions sets SuccessCriteriaMet, Complete waits for the count",
		job:       testJob(func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](1) }),
		pods:      []*corev1.Pod{testPod("a", corev1.PodSucceeded)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !hasCondition(d.status, batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached) || condition(d.status.Conditions, batchv1.JobComplete) != nil {
				t.Errorf("conditions %+v", d.status.Conditions)
			}
			if len(d.create) != 0 || d.status.CompletionTime != nil {
				t.Errorf("create %v, completionTime %v", d.create, d.status.CompletionTime)
			}
		},
	}, {
		name: "once counted, the job is Complete",
		job: testJob(func(j *batchv1.Job) {
			j.Spec.Completions = ptr.To[int32](1)
			j.Status.UncountedTerminatedPods.Succeeded = []types.UID{"a"}
			j.Status.Conditions = []batchv1.JobCondition{*newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, msgCompleted, metav1.NewTime(t0))}
		}),
		pods: []*corev1.Pod{testPod("a", corev1.PodSucceeded, untracked)},
		check: func(t *testing.T, d decision) {
			if !hasCondition(d.status, batchv1.JobComplete, batchv1.JobReasonCompletionsReached) || d.status.Succeeded != 1 ||
				d.status.CompletionTime == nil || len(d.events) != 1 || d.events[0].reason != "Completed" {
				t.Errorf("status %+v, events %v", d.status, d.events)
			}
		},
	}, {
		name:      "failures past backoffLimit fail the job and stop its pods",
		job:       testJob(func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](1); j.Status.Failed = 1 }),
		pods:      []*corev1.Pod{testPod("f", corev1.PodFailed), testPod("r", corev1.PodRunning)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !hasCondition(d.status, batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded) || condition(d.status.Conditions, batchv1.JobFailed) != nil {
				t.Errorf("conditions %+v", d.status.Conditions)
			}
			if !slices.Equal(names(d.stop), []string{"r"}) || len(d.create) != 0 || d.status.Active != 0 || *d.status.Terminating != 1 {
				t.Errorf("stop %v, create %v, active %d, terminating %d", names(d.stop), d.create, d.status.Active, *d.status.Terminating)
			}
			if !slices.Equal(d.status.UncountedTerminatedPods.Failed, []types.UID{"f", "r"}) || !slices.Equal(names(d.untrack), []string{"f", "r"}) {
				t.Errorf("the stopped pod counts as failed: uncounted %+v, untrack %v", d.status.UncountedTerminatedPods, names(d.untrack))
			}
		},
	}, {
		name: "a FailureTarget job becomes Failed once nothing is left",
		job: testJob(func(j *batchv1.Job) {
			j.Status.UncountedTerminatedPods.Failed = []types.UID{"f"}
			j.Status.Conditions = []batchv1.JobCondition{*newCondition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, msgDeadline, metav1.NewTime(t0))}
		}),
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !hasCondition(d.status, batchv1.JobFailed, batchv1.JobReasonDeadlineExceeded) || d.status.Failed != 1 || d.status.CompletionTime != nil {
				t.Errorf("status %+v", d.status)
			}
			if len(d.events) != 1 || d.events[0].kind != corev1.EventTypeWarning || d.events[0].reason != batchv1.JobReasonDeadlineExceeded {
				t.Errorf("events %v", d.events)
			}
		},
	}, {
		name: "Failed waits for terminating pods",
		job: testJob(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{*newCondition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, msgDeadline, metav1.NewTime(t0))}
		}),
		pods: []*corev1.Pod{testPod("t", corev1.PodRunning, untracked, onNode, deleting)},
		check: func(t *testing.T, d decision) {
			if condition(d.status.Conditions, batchv1.JobFailed) != nil || *d.status.Terminating != 1 {
				t.Errorf("status %+v", d.status)
			}
		},
	}, {
		name:      "past activeDeadlineSeconds the job fails",
		job:       testJob(func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30) }),
		pods:      []*corev1.Pod{testPod("r", corev1.PodRunning)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !hasCondition(d.status, batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded) || !slices.Equal(names(d.stop), []string{"r"}) {
				t.Errorf("conditions %+v, stop %v", d.status.Conditions, names(d.stop))
			}
		},
	}, {
		name:      "before activeDeadlineSeconds the job is looked at again when it passes",
		job:       testJob(func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](90) }),
		pods:      []*corev1.Pod{testPod("r", corev1.PodRunning), testPod("s", corev1.PodRunning)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if d.requeue != 30*time.Second || len(d.status.Conditions) != 0 {
				t.Errorf("requeue %v, conditions %+v", d.requeue, d.status.Conditions)
			}
		},
	}, {
		name:      "after a failure new pods wait out the back-off",
		job:       testJob(),
		backoff:   backoff{failures: 1, last: t0.Add(-2 * time.Second)},
		pods:      []*corev1.Pod{testPod("r", corev1.PodRunning)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if len(d.create) != 0 || d.requeue != 8*time.Second || d.status.Active != 1 {
				t.Errorf("create %v, requeue %v, active %d", d.create, d.requeue, d.status.Active)
			}
		},
	}, {
		name:      "a new failure starts the back-off",
		job:       testJob(),
		pods:      []*corev1.Pod{testPod("f", corev1.PodFailed, exitedAt(t0))},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if len(d.create) != 0 || d.requeue != 10*time.Second || d.backoff.failures != 1 || !d.backoff.last.Equal(t0) {
				t.Errorf("create %v, requeue %v, backoff %+v", d.create, d.requeue, d.backoff)
			}
		},
	}, {
		name:      "a suspended job deletes its pods uncounted and clears its start",
		job:       testJob(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }),
		pods:      []*corev1.Pod{testPod("r", corev1.PodRunning), testPod("s", corev1.PodPending)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !slices.Equal(names(d.remove), []string{"r", "s"}) || len(d.stop) != 0 || len(d.untrack) != 0 || d.status.Active != 0 {
				t.Errorf("remove %v, stop %v, untrack %v, active %d", names(d.remove), names(d.stop), names(d.untrack), d.status.Active)
			}
			if !hasCondition(d.status, batchv1.JobSuspended, "JobSuspended") || d.status.StartTime != nil || len(d.events) != 1 || d.events[0].reason != "Suspended" {
				t.Errorf("status %+v, events %v", d.status, d.events)
			}
		},
	}, {
		name: "a resumed job restarts its clock and its pods",
		job: testJob(func(j *batchv1.Job) {
			j.Status.StartTime = nil
			j.Status.Conditions = []batchv1.JobCondition{*newCondition(batchv1.JobSuspended, "JobSuspended", "Job suspended", metav1.NewTime(t0.Add(-time.Hour)))}
		}),
		mayManage: true,
		check: func(t *testing.T, d decision) {
			c := d.status.Conditions[0]
			if c.Status != corev1.ConditionFalse || c.Reason != "JobResumed" || !c.LastTransitionTime.Time.Equal(t0) {
				t.Errorf("Suspended condition %+v", c)
			}
			if d.status.StartTime == nil || len(d.create) != 2 || len(d.events) != 1 || d.events[0].reason != "Resumed" {
				t.Errorf("startTime %v, create %v, events %v", d.status.StartTime, d.create, d.events)
			}
		},
	}, {
		name:      "unmet expectations: count, but create and delete nothing",
		job:       testJob(func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](1) }),
		pods:      []*corev1.Pod{testPod("a", corev1.PodSucceeded), testPod("r", corev1.PodRunning), testPod("s", corev1.PodRunning)},
		mayManage: false,
		check: func(t *testing.T, d decision) {
			if len(d.create)+len(d.remove)+len(d.stop) != 0 || d.status.Active != 2 || len(d.status.UncountedTerminatedPods.Succeeded) != 1 {
				t.Errorf("create %v, remove %v, stop %v, status %+v", d.create, names(d.remove), names(d.stop), d.status)
			}
		},
	}, {
		name: "lowered parallelism deletes the least useful pods",
		job:  testJob(func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](1) }),
		pods: []*corev1.Pod{
			testPod("running-ready", corev1.PodRunning, onNode, ready),
			testPod("running", corev1.PodRunning, onNode),
			testPod("unscheduled", corev1.PodPending),
		},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !slices.Equal(names(d.remove), []string{"running", "unscheduled"}) || d.status.Active != 1 || *d.status.Ready != 1 {
				t.Errorf("remove %v, active %d, ready %d", names(d.remove), d.status.Active, *d.status.Ready)
			}
		},
	}, {
		name: "Indexed: the lowest free indexes are started",
		job: testJob(indexed, func(j *batchv1.Job) {
			j.Spec.Parallelism = ptr.To[int32](3)
			j.Status.CompletedIndexes = "0"
			j.Status.Succeeded = 1
		}),
		pods:      []*corev1.Pod{testPod("one", corev1.PodRunning, index("1"))},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !slices.Equal(d.create, []int{2, 3}) {
				t.Errorf("create %v, want [2 3]", d.create)
			}
		},
	}, {
		name: "Indexed: successes go to completedIndexes, not uncounted",
		job: testJob(indexed, func(j *batchv1.Job) {
			j.Status.CompletedIndexes = "0"
			j.Status.Succeeded = 1
		}),
		pods:      []*corev1.Pod{testPod("one", corev1.PodSucceeded, index("1")), testPod("three", corev1.PodSucceeded, index("3"))},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if d.status.CompletedIndexes != "0-1,3" || d.status.Succeeded != 3 || len(d.status.UncountedTerminatedPods.Succeeded) != 0 {
				t.Errorf("completedIndexes %q, succeeded %d, uncounted %+v", d.status.CompletedIndexes, d.status.Succeeded, d.status.UncountedTerminatedPods)
			}
			if !slices.Equal(names(d.untrack), []string{"one", "three"}) || !slices.Equal(d.create, []int{2}) {
				t.Errorf("untrack %v, create %v", names(d.untrack), d.create)
			}
		},
	}, {
		name: "Indexed: duplicates and indexes out of range are deleted",
		job:  testJob(indexed),
		pods: []*corev1.Pod{
			testPod("one-ready", corev1.PodRunning, index("1"), onNode, ready),
			testPod("one-pending", corev1.PodPending, index("1")),
			testPod("nine", corev1.PodRunning, index("9")),
		},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !slices.Equal(names(d.remove), []string{"nine", "one-pending"}) || len(d.create) != 0 {
				t.Errorf("remove %v, create %v", names(d.remove), d.create)
			}
		},
	}, {
		name:      "without completions one success lets the rest finish and starts nothing",
		job:       testJob(func(j *batchv1.Job) { j.Spec.Completions = nil }),
		pods:      []*corev1.Pod{testPod("a", corev1.PodSucceeded), testPod("r", corev1.PodRunning)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if len(d.create)+len(d.remove) != 0 || condition(d.status.Conditions, batchv1.JobSuccessCriteriaMet) != nil {
				t.Errorf("create %v, remove %v, conditions %+v", d.create, names(d.remove), d.status.Conditions)
			}
		},
	}, {
		name:      "without completions the job succeeds when the last pod ends",
		job:       testJob(func(j *batchv1.Job) { j.Spec.Completions = nil; j.Status.Succeeded = 1 }),
		pods:      []*corev1.Pod{testPod("a", corev1.PodSucceeded, untracked)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !hasCondition(d.status, batchv1.JobComplete, batchv1.JobReasonCompletionsReached) {
				t.Errorf("conditions %+v", d.status.Conditions)
			}
		},
	}, {
		name: "a job being deleted lets go of its pods",
		job: testJob(func(j *batchv1.Job) {
			ts := metav1.NewTime(t0)
			j.DeletionTimestamp = &ts
		}),
		pods:      []*corev1.Pod{testPod("r", corev1.PodRunning)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !slices.Equal(names(d.untrack), []string{"r"}) || len(d.status.UncountedTerminatedPods.Failed) != 0 || len(d.create) != 0 {
				t.Errorf("untrack %v, uncounted %+v, create %v", names(d.untrack), d.status.UncountedTerminatedPods, d.create)
			}
		},
	}, {
		name:      "a deleted pod counts as failed",
		job:       testJob(func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](1) }),
		pods:      []*corev1.Pod{testPod("d", corev1.PodRunning, onNode, deleting)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !slices.Equal(d.status.UncountedTerminatedPods.Failed, []types.UID{"d"}) || *d.status.Terminating != 1 {
				t.Errorf("uncounted %+v, terminating %d", d.status.UncountedTerminatedPods, *d.status.Terminating)
			}
		},
	}, {
		name: "with podReplacementPolicy Failed a deleted pod is awaited, not replaced",
		job: testJob(func(j *batchv1.Job) {
			j.Spec.Parallelism = ptr.To[int32](1)
			j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
		}),
		pods:      []*corev1.Pod{testPod("d", corev1.PodRunning, onNode, deleting)},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if len(d.status.UncountedTerminatedPods.Failed) != 0 || len(d.create) != 0 {
				t.Errorf("uncounted %+v, create %v", d.status.UncountedTerminatedPods, d.create)
			}
		},
	}, {
		name: "restartPolicy OnFailure: container restarts count against backoffLimit",
		job: testJob(func(j *batchv1.Job) {
			j.Spec.BackoffLimit = ptr.To[int32](2)
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		}),
		pods: []*corev1.Pod{testPod("r", corev1.PodRunning, func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: 2}}
		})},
		mayManage: true,
		check: func(t *testing.T, d decision) {
			if !hasCondition(d.status, batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded) {
				t.Errorf("conditions %+v", d.status.Conditions)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.job.DeepCopy()
			d := plan(input{job: tt.job, pods: tt.pods, backoff: tt.backoff, now: t0, mayManage: tt.mayManage,
				backoffBase: DefaultBackoff, backoffMax: DefaultMaxBackoff})
			tt.check(t, d)
			if d.status.Ready != nil && *d.status.Ready > d.status.Active {
				t.Errorf("ready %d > active %d: the API server refuses that", *d.status.Ready, d.status.Active)
			}
			if tt.job.Status.Succeeded != before.Status.Succeeded || len(tt.job.Status.Conditions) != len(before.Status.Conditions) {
				t.Errorf("plan changed its input job")
			}
		})
	}
}

func exitedAt(at time.Time) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(at)},
		}}}
	}
}
