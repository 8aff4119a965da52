package apiserver_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-io/berth/store/bench"
	"github.com/berth-io/berth/store/servertest"
)

// appliedObjects are gitsync's benchmark objects (reconciler/gitsync/bench):
// the JSON it sends for each kind, by resource path and name.
var appliedObjects = []struct {
	name, resource string
	body           func(ns, name string) string
}{
	{"ConfigMap", "/api/v1/namespaces/%s/configmaps/%s", func(ns, name string) string {
		return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `","namespace":"` + ns + `","labels":{"berth.io/source":"bench"}},"data":{"key":"value"}}`
	}},
	{"Secret", "/api/v1/namespaces/%s/secrets/%s", func(ns, name string) string {
		return `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"` + name + `","namespace":"` + ns + `","labels":{"berth.io/source":"bench"}},"stringData":{"password":"hunter2"}}`
	}},
	{"Deployment", "/apis/apps/v1/namespaces/%s/deployments/%s", func(ns, name string) string {
		return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + name + `","namespace":"` + ns + `","labels":{"berth.io/source":"bench"}},` +
			`"spec":{"selector":{"matchLabels":{"app":"` + name + `"}},"template":{"metadata":{"labels":{"app":"` + name + `"}},` +
			`"spec":{"serviceAccountName":"` + name + `","containers":[{"name":"app","image":"registry.example/` + name + `:v1","envFrom":[{"configMapRef":{"name":"` + name + `-env"}}]}]}}}}`
	}},
}

// cpuTime is the CPU time (user and system) this process has used: the
// server, its etcd and the client all run in it.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs op b.N times and reports the process's CPU time per op.
func measure(b *testing.B, op func(i int)) {
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime(b)
	for i := 0; b.Loop(); i++ {
		op(i)
	}
	b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func applyOne(b *testing.B, client kubernetes.Interface, path, body string) {
	res := client.CoreV1().RESTClient().Patch(types.ApplyPatchType).AbsPath(path).
		Param("fieldManager", "berth-gitsync").Param("force", "true").Body([]byte(body)).Do(context.Background())
	if err := res.Error(); err != nil {
		b.Fatalf("apply %s: %v", path, err)
	}
}

// BenchmarkApply measures server-side apply as gitsync does it: creating
// objects (new names) and applying them again unchanged (a no-op).
func BenchmarkApply(b *testing.B) {
	s := servertest.Start(b)
	s.Namespace("bench")
	for _, o := range appliedObjects {
		b.Run("create/"+o.name, func(b *testing.B) {
			measure(b, func(i int) {
				name := fmt.Sprintf("create-%d", i)
				applyOne(b, s.Admin, fmt.Sprintf(o.resource, "bench", name), o.body("bench", name))
			})
		})
		b.Run("unchanged/"+o.name, func(b *testing.B) {
			applyOne(b, s.Admin, fmt.Sprintf(o.resource, "bench", "same"), o.body("bench", "same"))
			measure(b, func(int) {
				applyOne(b, s.Admin, fmt.Sprintf(o.resource, "bench", "same"), o.body("bench", "same"))
			})
		})
	}
}

// BenchmarkCreatePod measures POST of the pod store/bench writes (protobuf).
func BenchmarkCreatePod(b *testing.B) {
	s := servertest.Start(b)
	s.Namespace("bench")
	measure(b, func(i int) {
		if _, err := s.Admin.CoreV1().Pods("bench").Create(context.Background(), bench.Pod("bench", fmt.Sprintf("pod-%d", i), i), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	})
}
