package bench

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// WriteTable prints the report as kubectl prints resources: one aligned
// table per kind of figure, headers in capitals. A scenario that did not
// run (the run was interrupted) has no table.
func WriteTable(out io.Writer, r *Report) error {
	w := tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)
	fmt.Fprintf(w, "SCENARIO\tCLIENTS\tOPS\tOPS/S\tP50\tP90\tP99\tMAX\tERRORS\tSERVER CPU/OP\tCLIENT CPU/OP\tCLIENT ALLOCS/OP\n")
	for _, t := range r.Throughput {
		serverCPU := "-"
		if t.ServerCPUPerOpMs > 0 {
			serverCPU = Millis(time.Duration(t.ServerCPUPerOpMs * float64(time.Millisecond)))
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%.0f\n", t.Scenario, t.Clients, t.Ops, t.PerSecond,
			Millis(t.Latency.P50), Millis(t.Latency.P90), Millis(t.Latency.P99), Millis(t.Latency.Max), t.Errors,
			serverCPU, Millis(time.Duration(t.ClientCPUPerOpMs*float64(time.Millisecond))), t.ClientAllocsPerOp)
	}
	if wr := r.Watch; wr != nil {
		fmt.Fprintln(w)
		serverCPU := "-"
		if wr.ServerCPUMs > 0 {
			serverCPU = Millis(time.Duration(wr.ServerCPUMs * float64(time.Millisecond)))
		}
		fmt.Fprintf(w, "WATCHERS\tWRITES\tEVENTS DELIVERED\tALL DELIVERED\tDELAY P50\tDELAY P99\tDELAY MAX\tWATCHES CLOSED\tSERVER CPU\tCLIENT CPU\n")
		fmt.Fprintf(w, "%d\t%d\t%d/%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", wr.Watchers, wr.Writes, wr.Delivered, wr.Expected,
			yesNo(wr.AllDelivered()), Millis(wr.Delay.P50), Millis(wr.Delay.P99), Millis(wr.Delay.Max), wr.Closed,
			serverCPU, Millis(time.Duration(wr.ClientCPUMs*float64(time.Millisecond))))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "SERVER MEMORY\tPODS\tRSS\tANON\tFILE\tPEAK RSS\n")
	if len(r.Memory) == 0 {
		fmt.Fprintf(w, "unknown (remote server)\t\t\t\t\t\n")
	}
	for _, m := range r.Memory {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", m.When, m.Pods, MiB(m.RSS), MiB(m.Anon), MiB(m.File), MiB(m.Peak))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	m := r.Machine
	_, err := fmt.Fprintf(out, "\nServer: %s\nLoad generator: %d CPUs, kernel %s, %s; load average %s at the start, %s at the end\n",
		r.Target, m.CPUs, m.Kernel, m.GoVersion, m.LoadStart, m.LoadEnd)
	return err
}

// Millis formats a latency in milliseconds: two decimals below 10 ms, one
// below 100 ms, none above.
func Millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
	case ms < 100:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
}

// MiB formats a byte count in mebibytes.
func MiB(bytes int64) string {
	return strconv.FormatFloat(float64(bytes)/(1<<20), 'f', 0, 64) + " MiB"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
