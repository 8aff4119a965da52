package leader

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// fast keeps the tests short: a 2 s lease renewed within 1.5 s.
var fast = Options{LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond}

// cluster counts how many candidates act at once, and the worst it saw.
type cluster struct {
	active, worst atomic.Int32
	terms         sync.Map // identity -> *atomic.Int32 (terms started)
}

// candidate campaigns as identity until the returned cancel is called; its
// work lingers for linger after its context is done, as real work might.
func (c *cluster) candidate(t *testing.T, client kubernetes.Interface, identity string, linger time.Duration) (cancel func(), done <-chan struct{}) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	finished := make(chan struct{})
	terms, _ := c.terms.LoadOrStore(identity, new(atomic.Int32))
	go func() {
		defer close(finished)
		err := Run(ctx, client, "kube-system", "test-lock", identity, fast, func(ctx context.Context) {
			terms.(*atomic.Int32).Add(1)
			n := c.active.Add(1)
			for {
				w := c.worst.Load()
				if n <= w || c.worst.CompareAndSwap(w, n) {
					break
				}
			}
			<-ctx.Done()
			time.Sleep(linger)
			c.active.Add(-1)
		})
		if err != nil {
			t.Errorf("%s: %v", identity, err)
		}
	}()
	t.Cleanup(func() { stop(); <-finished })
	return stop, finished
}

func (c *cluster) termsOf(identity string) int32 {
	v, ok := c.terms.Load(identity)
	if !ok {
		return 0
	}
	return v.(*atomic.Int32).Load()
}

// waitFor polls cond every 20 ms for up to limit and reports how long it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func TestOnlyOneCandidateLeadsAndAStandbyTakesOverWhenTheLeaderStops(t *testing.T) {
	s := servertest.Start(t)
	c := &cluster{}
	stopA, doneA := c.candidate(t, s.ClientAs(server.ControllerManagerUser), "a", 300*time.Millisecond)
	waitFor(t, 5*time.Second, "a leads", func() bool { return c.termsOf("a") == 1 })
	c.candidate(t, s.ClientAs(server.ControllerManagerUser), "b", 0)

	time.Sleep(2 * fast.LeaseDuration)
	if got := c.termsOf("b"); got != 0 {
		t.Fatalf("b ran %d terms while a held the lease", got)
	}

	stopA()
	took := waitFor(t, fast.LeaseDuration, "b takes over", func() bool { return c.termsOf("b") == 1 })
	<-doneA
	if w := c.worst.Load(); w != 1 {
		t.Fatalf("%d candidates acted at once", w)
	}
	t.Logf("takeover after the leader stopped: %s", took.Round(time.Millisecond))
}

func TestALeaderWhoseLeaseIsTakenStopsWithinTheRenewDeadlineAndCampaignsAgain(t *testing.T) {
	s := servertest.Start(t)
	c := &cluster{}
	c.candidate(t, s.ClientAs(server.ControllerManagerUser), "a", 0)
	waitFor(t, 5*time.Second, "a leads", func() bool { return c.termsOf("a") == 1 })

	// Another holder overwrites the Lease and never renews it.
	ctx := context.Background()
	lease, err := s.Admin.CoordinationV1().Leases("kube-system").Get(ctx, "test-lock", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	thief := "thief"
	lease.Spec.HolderIdentity = &thief
	lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	if _, err := s.Admin.CoordinationV1().Leases("kube-system").Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stolen := time.Now()

	waitFor(t, fast.RenewDeadline+time.Second, "a stops acting", func() bool { return c.active.Load() == 0 })
	if lost := time.Since(stolen); lost >= fast.LeaseDuration {
		t.Fatalf("a acted for %s after losing the lease, as long as a lease lasts", lost)
	}
	waitFor(t, 3*fast.LeaseDuration, "a leads again once the stolen lease expires", func() bool { return c.termsOf("a") == 2 })
}

func TestInconsistentDurationsAreAnError(t *testing.T) {
	s := servertest.Start(t)
	opts := Options{LeaseDuration: time.Second, RenewDeadline: 2 * time.Second}
	err := Run(context.Background(), s.Admin, "kube-system", "x", "a", opts, func(context.Context) {
		t.Error("fn ran with inconsistent options")
	})
	if err == nil {
		t.Fatal("a renew deadline longer than the lease was accepted")
	}
}
