package nettest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestHostsTalkOverVethAndBridge(t *testing.T) {
	a, b, c := New(t, "ntA"), New(t, "ntB"), New(t, "ntC")
	for _, err := range []error{
		a.Bridge("br0", "10.77.0.1/24"),
		a.Veth("vb", "", "br0", b, "eth0", "10.77.0.2/24"),
		a.Veth("vc", "", "br0", c, "eth0", "10.77.0.3/24"),
		b.DefaultRoute("10.77.0.1", ""),
		a.Sysctl("ipv4/ip_forward", "1"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	c.Serve(t, ":8080", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "from c") }))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := b.Get(ctx, "http://10.77.0.3:8080/")
	if err != nil || got != "from c" {
		t.Fatalf("b -> c over the bridge: %q, %v", got, err)
	}
	// Dials start inside their namespace: an unconnected one reaches
	// nothing.
	d := New(t, "ntD")
	if conn, err := d.DialContext(ctx, "tcp", "10.77.0.3:8080"); err == nil {
		conn.Close()
		t.Fatal("a namespace with only a loopback reached c's server: the dial did not start inside it")
	}
}
