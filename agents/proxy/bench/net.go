package bench

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/vishvananda/netns"

	"github.com/berth-io/berth/agents/nettest"
)

// hosts makes a node namespace and a pod namespace behind a veth pair, the
// pod holding one address per endpoint of the measured service.
func hosts(endpoints int) (node, pod *nettest.Netns, err error) {
	if node, err = nettest.Create("bpnode"); err != nil {
		return nil, nil, err
	}
	if pod, err = nettest.Create("bppod"); err != nil {
		_ = node.Delete()
		return nil, nil, err
	}
	fail := func(err error) (*nettest.Netns, *nettest.Netns, error) {
		_ = node.Delete()
		_ = pod.Delete()
		return nil, nil, err
	}
	if err := node.Veth("veth0", podBase+"1/24", "", pod, "eth0", fmt.Sprintf("%s%d/24", podBase, podFirst)); err != nil {
		return fail(err)
	}
	for e := 1; e < endpoints; e++ {
		if err := pod.AddAddr("eth0", fmt.Sprintf("%s%d/32", podBase, podFirst+e)); err != nil {
			return fail(err)
		}
	}
	if err := node.DefaultRoute("", "veth0"); err != nil {
		return fail(err)
	}
	if err := pod.DefaultRoute(podBase+"1", ""); err != nil {
		return fail(err)
	}
	return node, pod, nil
}

// serve accepts connections in the pod and writes one byte on each.
func serve(pod *nettest.Netns) (stop func(), err error) {
	l, err := pod.Listen("tcp", fmt.Sprintf(":%d", podPort))
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte{'x'})
			_ = c.Close()
		}
	}()
	return func() { _ = l.Close() }, nil
}

// dialer dials from one OS thread kept in the node namespace, so that a
// measured connection costs no thread switch or namespace change.
type dialer struct {
	jobs chan func()
}

func newDialer(node *nettest.Netns) (*dialer, error) {
	d := &dialer{jobs: make(chan func())}
	ready := make(chan error, 1)
	go func() {
		// Locked for good: the thread ends with the goroutine.
		runtime.LockOSThread()
		h, err := netns.GetFromName(node.Name)
		if err == nil {
			err = netns.Set(h)
			_ = h.Close()
		}
		ready <- err
		if err != nil {
			return
		}
		for job := range d.jobs {
			job()
		}
	}()
	return d, <-ready
}

func (d *dialer) close() { close(d.jobs) }

// measure makes n connections to addr one after another and times the
// connect (the SYN crosses the proxy's rules) and the first byte.
func (d *dialer) measure(ctx context.Context, addr string, n int) (Latency, error) {
	var connect, first []time.Duration
	var err error
	// No garbage collection while measuring: the figures are the
	// kernel's path, not this process's heap.
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	done := make(chan struct{})
	d.jobs <- func() {
		defer close(done)
		buf := make([]byte, 1)
		for range n {
			if ctx.Err() != nil {
				err = ctx.Err()
				return
			}
			t0 := time.Now()
			var c net.Conn
			c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", addr)
			if err != nil {
				err = fmt.Errorf("connecting to %s: %w", addr, err)
				return
			}
			t1 := time.Now()
			_ = c.SetReadDeadline(t1.Add(2 * time.Second))
			if _, err = c.Read(buf); err != nil {
				_ = c.Close()
				err = fmt.Errorf("reading from %s: %w", addr, err)
				return
			}
			t2 := time.Now()
			_ = c.Close()
			connect = append(connect, t1.Sub(t0))
			first = append(first, t2.Sub(t0))
		}
	}
	<-done
	if err != nil {
		return Latency{}, err
	}
	var total time.Duration
	for _, f := range first {
		total += f
	}
	return Latency{Connect: percentiles(connect), FirstByte: percentiles(first), PerSecond: float64(n) / total.Seconds()}, nil
}
