// Package podbench measures pod startup on a real node: pods of an HTTP
// image are created at once, and the benchmark times each from its create
// to Running (seen through a watch) and to its first HTTP answer.
package podbench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-io/berth/store/bench"
)

// Settings say what to measure.
type Settings struct {
	// Namespace holds the pods (created if missing).
	Namespace string
	// Pods is how many pods to start.
	Pods int
	// Image answers HTTP GET / on Port once it runs.
	Image string
	Port  int
	// Rate is how many pods are created per second; 0 creates them all
	// at once (a burst).
	Rate float64
	// Timeout bounds the whole run.
	Timeout time.Duration
}

// DefaultSettings are the issue's: 50 pods of demo/hello on one node.
func DefaultSettings() Settings {
	return Settings{Namespace: "bench-pods", Pods: 50, Image: "localhost/hello:v1", Port: 8080, Timeout: 2 * time.Minute}
}

// Result holds the figures.
type Result struct {
	Pods int
	// Running is create → Running through a watch; HTTP is create → the
	// first HTTP answer from the pod's IP.
	Running, HTTP bench.Summary
	// Seconds is how long until every pod answered.
	Seconds float64
}

// Measure creates the pods, waits for all of them to run and answer, and
// deletes them again.
func Measure(ctx context.Context, client kubernetes.Interface, s Settings, progress func(string, ...any)) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.Namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return Result{}, err
	}
	if err := waitServiceAccount(ctx, client, s.Namespace); err != nil {
		return Result{}, err
	}
	pods := client.CoreV1().Pods(s.Namespace)
	w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: "app=podbench"})
	if err != nil {
		return Result{}, err
	}
	defer w.Stop()

	created := make([]time.Time, s.Pods)
	var mu sync.Mutex
	var running, answered []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, s.Pods)
	start := time.Now()
	progress("creating %d pods of %s (%s)", s.Pods, s.Image, rateText(s.Rate))
	go func() {
		for i := range s.Pods {
			if s.Rate > 0 {
				next := start.Add(time.Duration(float64(i) / s.Rate * float64(time.Second)))
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
			}
			mu.Lock()
			created[i] = time.Now()
			mu.Unlock()
			if _, err := pods.Create(ctx, pod(i, s), metav1.CreateOptions{}); err != nil {
				errs <- fmt.Errorf("creating pod %d: %w", i, err)
				return
			}
		}
	}()
	seen := map[string]bool{}
	for len(seen) < s.Pods {
		var ev watch.Event
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("%d of %d pods running when time ran out: %w", len(seen), s.Pods, ctx.Err())
		case err := <-errs:
			return Result{}, err
		case e, ok := <-w.ResultChan():
			if !ok {
				return Result{}, fmt.Errorf("the watch ended after %d running pods", len(seen))
			}
			ev = e
		}
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || seen[p.Name] || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			continue
		}
		seen[p.Name] = true
		var idx int
		_, _ = fmt.Sscanf(p.Name, "podbench-%d", &idx)
		mu.Lock()
		t0 := created[idx]
		running = append(running, time.Since(t0))
		mu.Unlock()
		url := fmt.Sprintf("http://%s:%d/", p.Status.PodIP, s.Port)
		wg.Go(func() {
			if err := firstAnswer(ctx, url); err != nil {
				errs <- fmt.Errorf("pod %s: %w", p.Name, err)
				return
			}
			mu.Lock()
			answered = append(answered, time.Since(t0))
			mu.Unlock()
		})
	}
	progress("all %d pods running; waiting for their HTTP answers", s.Pods)
	wg.Wait()
	select {
	case err := <-errs:
		return Result{}, err
	default:
	}
	return Result{Pods: s.Pods, Running: bench.Summarize(running), HTTP: bench.Summarize(answered), Seconds: time.Since(start).Seconds()}, nil
}

// Cleanup deletes the pods and waits until they are gone.
func Cleanup(ctx context.Context, client kubernetes.Interface, s Settings) error {
	pods := client.CoreV1().Pods(s.Namespace)
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=podbench"}); err != nil {
		return err
	}
	for {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app=podbench"})
		if err != nil {
			return err
		}
		if len(list.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d pods still there: %w", len(list.Items), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func rateText(rate float64) string {
	if rate <= 0 {
		return "all at once"
	}
	return fmt.Sprintf("%.1f per second", rate)
}

func pod(i int, s Settings) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("podbench-%d", i), Labels: map[string]string{"app": "podbench"}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: new(int64(5)),
			Containers: []corev1.Container{{Name: "app", Image: s.Image, ImagePullPolicy: corev1.PullIfNotPresent,
				Ports: []corev1.ContainerPort{{ContainerPort: int32(s.Port)}}}},
		},
	}
}

// firstAnswer polls url until it answers 200.
func firstAnswer(ctx context.Context, url string) error {
	client := http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer from %s: %w (last: %v)", url, ctx.Err(), err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func waitServiceAccount(ctx context.Context, client kubernetes.Interface, ns string) error {
	for {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no default ServiceAccount in %s: %w", ns, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
