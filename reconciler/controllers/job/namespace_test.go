package job

import (
	"context"
	"io"
	"log/slog"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/berth-io/berth/reconciler/controllers/namespace"
	"github.com/berth-io/berth/store/server"
)

// The pods of a running job carry the tracking finalizer; deleting their
// namespace deletes the job first, and the job controller must then let go
// of the pods or the namespace would wait for them forever.
func TestNamespaceWithARunningJobIsDeleted(t *testing.T) {
	c := start(t)
	client := c.ClientAs(server.ControllerManagerUser)
	factory := informers.NewSharedInformerFactory(client, 0)
	nc, err := namespace.New(client, metadata.NewForConfigOrDie(c.ConfigAs(server.ControllerManagerUser)), factory,
		&record.FakeRecorder{}, namespace.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(factory.Shutdown)
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	go nc.Run(ctx, 1)

	job := c.create(newJob("work", func(s *batchv1.JobSpec) { s.Parallelism = ptr.To[int32](3) }))
	for _, p := range c.waitActive(job, 3) {
		c.run(p)
	}
	if err := c.Admin.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.eventually("the namespace gone", func() bool {
		_, err := c.Admin.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}
