package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// TestMaxInFlightAnswers429 fills the only request slot with a create whose
// body is still being sent, and checks the next request is refused with
// 429 TooManyRequests and a Retry-After header instead of queueing.
func TestMaxInFlightAnswers429(t *testing.T) {
	opts := freeOptions()
	opts.MaxInFlight = 1
	ts := startTestServer(t, opts)
	client, err := rest.HTTPClientFor(ts.config)
	if err != nil {
		t.Fatal(err)
	}
	body, feed := io.Pipe()
	slow, err := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/namespaces/default/configmaps", body)
	if err != nil {
		t.Fatal(err)
	}
	slow.Header.Set("Content-Type", "application/json")
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := client.Do(slow)
		if err != nil {
			done <- nil
			return
		}
		done <- resp
	}()
	_, _ = feed.Write([]byte(`{"apiVersion":"v1","kind":"ConfigMap",`))

	var resp *http.Response
	waitFor(t, "a request to be refused while the slot is taken", func() bool {
		r, err := client.Get(ts.URL + "/api/v1/namespaces/default/configmaps")
		if err != nil {
			return false
		}
		if r.StatusCode == http.StatusTooManyRequests {
			resp = r
			return true
		}
		r.Body.Close()
		time.Sleep(20 * time.Millisecond)
		return false
	})
	defer resp.Body.Close()
	var status metav1.Status
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
		t.Fatal(err)
	}
	if status.Reason != metav1.StatusReasonTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("want reason TooManyRequests and Retry-After, got %q %q", status.Reason, resp.Header.Get("Retry-After"))
	}

	_, _ = feed.Write([]byte(`"metadata":{"name":"slow"}}`))
	_ = feed.Close()
	created := <-done
	if created == nil || created.StatusCode != http.StatusCreated {
		t.Fatalf("the slow create should still succeed: %+v", created)
	}
	created.Body.Close()
	if !strings.Contains(resp.Request.URL.Path, "configmaps") {
		t.Fatal("unexpected request")
	}
}

func TestSystemNamespacesCannotBeDeleted(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	for _, name := range []string{"default", "kube-system", "kube-public"} {
		err := ts.client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "may not be deleted") {
			t.Fatalf("deleting %s: want 403, got %v", name, err)
		}
		ns, err := ts.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil || ns.DeletionTimestamp != nil {
			t.Fatalf("%s was touched: %v %+v", name, err, ns.ObjectMeta)
		}
	}
}

func TestNodesKeepTheStatusTheyAreCreatedWith(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		Capacity:   corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")},
	}}
	created, err := ts.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Status.Conditions) != 1 || created.Status.Capacity.Pods().Value() != 110 {
		t.Fatalf("a kubelet registers its node with its status; it was dropped: %+v", created.Status)
	}
	cm, err := ts.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}, metav1.CreateOptions{})
	if err != nil || cm.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("other kinds' status is the server's on create: %v %+v", err, cm.Status)
	}
}
