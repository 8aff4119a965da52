package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteTable writes the report as a table.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "berth bench proxy: %d services x %d endpoints, %d connections per latency figure, %d changes\n\n",
		r.Settings.Services, r.Settings.Endpoints, r.Settings.Connections, r.Settings.Changes)
	fmt.Fprintf(tw, "\t%s\n", joinNames(r))
	row := func(name string, f func(Design) string) {
		fmt.Fprintf(tw, "%s", name)
		for _, d := range r.Designs {
			fmt.Fprintf(tw, "\t%s", f(d))
		}
		fmt.Fprintln(tw)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
	row("full sync", func(d Design) string { return ms(d.FullSync) })
	row("  of which kernel", func(d Design) string { return ms(d.FullSyncKernel) })
	row("  netlink messages / MiB", func(d Design) string {
		return fmt.Sprintf("%d / %.1f", d.Messages, float64(d.Bytes)/(1<<20))
	})
	row("rules / set elements", func(d Design) string { return fmt.Sprintf("%d / %d", d.Rules, d.Elements) })
	row("one changed service p50 / p99", func(d Design) string { return ms(d.Change.P50) + " / " + ms(d.Change.P99) })
	row("resync from the kernel", func(d Design) string { return ms(d.Resync) })
	row("connect p50 / p99, 10 services", func(d Design) string { return us(d.Few.Connect.P50) + " / " + us(d.Few.Connect.P99) })
	row(fmt.Sprintf("connect p50 / p99, %d services", r.Settings.Services), func(d Design) string {
		return us(d.Many.Connect.P50) + " / " + us(d.Many.Connect.P99)
	})
	row("first byte p50, 10 / many services", func(d Design) string {
		return us(d.Few.FirstByte.P50) + " / " + us(d.Many.FirstByte.P50)
	})
	row("connections/s, 10 / many services", func(d Design) string {
		return fmt.Sprintf("%.0f / %.0f", d.Few.PerSecond, d.Many.PerSecond)
	})
	row("connect p50 change, 10 -> many", func(d Design) string {
		if d.Few.Connect.P50 == 0 {
			return "-"
		}
		return fmt.Sprintf("%+.1f %%", 100*(float64(d.Many.Connect.P50)/float64(d.Few.Connect.P50)-1))
	})
	row("Go heap in use after full sync", func(d Design) string { return fmt.Sprintf("%.0f MiB", d.HeapMiB) })
	fmt.Fprintf(tw, "\ndirect to the endpoint (no DNAT): connect p50 %s, p99 %s\n", us(r.Direct.Connect.P50), us(r.Direct.Connect.P99))
	return tw.Flush()
}

func joinNames(r *Report) string {
	s := ""
	for i, d := range r.Designs {
		if i > 0 {
			s += "\t"
		}
		s += d.Name
	}
	return s
}
