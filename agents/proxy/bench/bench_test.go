package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunMeasuresBothDesigns(t *testing.T) {
	r, err := Run(context.Background(), Settings{Services: 50, Endpoints: 3, Changes: 5, Connections: 20}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Designs) != 2 {
		t.Fatalf("%d designs measured, want maps and linear", len(r.Designs))
	}
	for _, d := range r.Designs {
		if d.FullSync <= 0 || d.Change.P50 <= 0 || d.Few.Connect.P50 <= 0 || d.Many.Connect.P50 <= 0 || d.Rules == 0 || d.Messages == 0 {
			t.Errorf("%s: missing figures: %+v", d.Name, d)
		}
	}
	var out bytes.Buffer
	if err := WriteTable(&out, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"maps (berth)", "linear chain (iptables-style)", "full sync", "connect p50 / p99, 50 services"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
