// Command worker is berth's demo batch job: it works for WORK_SECONDS
// (default 3), printing a progress line every second, then exits with
// EXIT_CODE (default 0); SIGTERM stops it early with 143. Build it into an
// image with
//
//	berth images build examples-repo/images/worker -t demo/worker:v1
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	os.Exit(run(os.Getenv, os.Stdout, stop, tick.C))
}

// run does the work: one step per tick, WORK_SECONDS steps, and returns the
// exit code.
func run(getenv func(string) string, out io.Writer, stop <-chan os.Signal, tick <-chan time.Time) int {
	seconds, err := intEnv(getenv, "WORK_SECONDS", 3)
	if err != nil {
		fmt.Fprintln(out, err)
		return 2
	}
	code, err := intEnv(getenv, "EXIT_CODE", 0)
	if err != nil {
		fmt.Fprintln(out, err)
		return 2
	}
	name := getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	fmt.Fprintf(out, "worker %s: working for %ds\n", name, seconds)
	for done := 0; done < seconds; {
		select {
		case sig := <-stop:
			fmt.Fprintf(out, "worker %s: got %v after %d/%ds, stopping\n", name, sig, done, seconds)
			return 143
		case <-tick:
			done++
			fmt.Fprintf(out, "worker %s: %d/%d\n", name, done, seconds)
		}
	}
	fmt.Fprintf(out, "worker %s: done, exiting with %d\n", name, code)
	return code
}

func intEnv(getenv func(string) string, key string, def int) (int, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a whole number >= 0", key, v)
	}
	return n, nil
}
