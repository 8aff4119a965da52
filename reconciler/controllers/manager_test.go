package controllers

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/berth-io/berth/reconciler/leader"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// fake is a controller that reads ConfigMaps and, once running, records an
// event on the ConfigMap "target" in "default".
type fake struct {
	ctx     Context
	synced  cache.InformerSynced
	running *atomic.Int32
	reports chan<- report
}

type report struct {
	synced  bool
	workers int
}

func (f *fake) Run(ctx context.Context, workers int) {
	f.running.Add(1)
	defer f.running.Add(-1)
	target := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "target", Namespace: "default", UID: "target-uid"}}
	f.ctx.Recorder.Eventf(target, corev1.EventTypeNormal, "Ran", "ran with %d workers", workers)
	f.reports <- report{synced: f.synced(), workers: workers}
	<-ctx.Done()
}

// registration of a fake controller named name, counting how many of its
// copies run and reporting each start.
func fakeRegistration(name, component string, running *atomic.Int32, reports chan<- report) Registration {
	return Registration{Name: name, Component: component, New: func(c Context) (Controller, error) {
		informer := c.Informers.Core().V1().ConfigMaps().Informer()
		return &fake{ctx: c, synced: informer.HasSynced, running: running, reports: reports}, nil
	}}
}

func newManager(t *testing.T, s *servertest.Server, opts Options) *Manager {
	t.Helper()
	m, err := New(s.ConfigAs(server.ControllerManagerUser), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// start runs m until the test ends or stop is called; wait returns what
// Run returned.
func start(t *testing.T, m *Manager) (stop func(), wait func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = m.Run(ctx)
	}()
	wait = func() error {
		select {
		case <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("the manager did not stop within 10s")
		}
	}
	t.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			t.Error(err)
		}
	})
	return cancel, wait
}

func receive(t *testing.T, reports <-chan report, within time.Duration) report {
	t.Helper()
	select {
	case r := <-reports:
		return r
	case <-time.After(within):
		t.Fatalf("no controller started within %s", within)
		return report{}
	}
}

func TestControllersRunOnSyncedCachesWithTheirWorkersAndRecordEvents(t *testing.T) {
	s := servertest.Start(t)
	m := newManager(t, s, Options{Workers: 3})
	var running atomic.Int32
	reports := make(chan report, 4)
	for _, r := range []Registration{
		fakeRegistration("first", "", &running, reports),
		fakeRegistration("second", "second-thing", &running, reports),
	} {
		if err := m.Register(r); err != nil {
			t.Fatal(err)
		}
	}
	start(t, m)

	for range 2 {
		if r := receive(t, reports, 10*time.Second); !r.synced || r.workers != 3 {
			t.Fatalf("controller ran with %+v, want synced caches and 3 workers", r)
		}
	}
	want := map[string]bool{"first-controller": true, "second-thing": true}
	deadline := time.Now().Add(10 * time.Second)
	for len(want) > 0 && time.Now().Before(deadline) {
		events, err := s.Admin.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events.Items {
			if e.Reason == "Ran" && e.InvolvedObject.Name == "target" && e.Message == "ran with 3 workers" {
				delete(want, e.Source.Component)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(want) > 0 {
		t.Fatalf("no events from %v", want)
	}
}

func TestDisabledControllersAreNotBuilt(t *testing.T) {
	s := servertest.Start(t)
	m := newManager(t, s, Options{Disabled: []string{"off"}})
	var running atomic.Int32
	reports := make(chan report, 2)
	if err := m.Register(fakeRegistration("on", "", &running, reports)); err != nil {
		t.Fatal(err)
	}
	if err := m.Register(Registration{Name: "off", New: func(Context) (Controller, error) {
		t.Error("the disabled controller was built")
		return nil, errors.New("disabled")
	}}); err != nil {
		t.Fatal(err)
	}
	start(t, m)
	receive(t, reports, 10*time.Second)
}

func TestRunErrors(t *testing.T) {
	s := servertest.Start(t)
	failing := Registration{Name: "broken", New: func(Context) (Controller, error) { return nil, errors.New("bad flag") }}
	for _, tc := range []struct {
		name        string
		opts        Options
		wantInError []string
	}{
		{"unknown disabled name", Options{Disabled: []string{"nope"}}, []string{"--disable nope", "known: broken"}},
		{"constructor fails", Options{}, []string{"building controller broken", "bad flag"}},
		{"constructor fails while leading", Options{LeaderElect: true}, []string{"building controller broken", "bad flag"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, s, tc.opts)
			if err := m.Register(failing); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := m.Run(ctx)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("Run returned %v (context: %v), want an error", err, ctx.Err())
			}
			for _, w := range tc.wantInError {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestRegisterRejectsEmptyAndDuplicateNames(t *testing.T) {
	s := servertest.Start(t)
	m := newManager(t, s, Options{})
	newFake := func(Context) (Controller, error) { return nil, nil }
	for _, tc := range []struct {
		r       Registration
		wantErr bool
	}{
		{Registration{Name: "a", New: newFake}, false},
		{Registration{Name: "a", New: newFake}, true},
		{Registration{Name: "", New: newFake}, true},
		{Registration{Name: "b"}, true},
	} {
		if err := m.Register(tc.r); (err != nil) != tc.wantErr {
			t.Errorf("Register(%q): error %v, want error %v", tc.r.Name, err, tc.wantErr)
		}
	}
}

func TestOnlyTheLeadingManagerRunsControllersAndAStandbyTakesOver(t *testing.T) {
	s := servertest.Start(t)
	fast := leader.Options{LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond}
	var running atomic.Int32
	reports := make(chan report, 4)
	managers := make([]*Manager, 2)
	for i, id := range []string{"one", "two"} {
		managers[i] = newManager(t, s, Options{LeaderElect: true, Leader: fast, Identity: id})
		if err := managers[i].Register(fakeRegistration("fake", "", &running, reports)); err != nil {
			t.Fatal(err)
		}
	}
	stopFirst, waitFirst := start(t, managers[0])
	receive(t, reports, 10*time.Second)
	start(t, managers[1])

	time.Sleep(2 * fast.LeaseDuration)
	if n := running.Load(); n != 1 {
		t.Fatalf("%d copies of the controller run", n)
	}
	lease, err := s.Admin.CoordinationV1().Leases(LeaseNamespace).Get(context.Background(), LeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := *lease.Spec.HolderIdentity; got != "one" {
		t.Fatalf("lease held by %q, want one", got)
	}

	stopFirst()
	if err := waitFirst(); err != nil {
		t.Fatalf("the first manager stopped with %v", err)
	}
	receive(t, reports, fast.LeaseDuration)
	if n := running.Load(); n != 1 {
		t.Fatalf("%d copies of the controller run after the takeover", n)
	}
}
