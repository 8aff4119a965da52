// Command worker is berth's demo batch job: it works for WORK_SECONDS
// (default 3), printing a progress line every second, then exits with
// EXIT_CODE (default 0). Build it into an image with
//
//	berth images build examples-repo/images/worker -t demo/worker:v1
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	seconds, err := intEnv("WORK_SECONDS", 3)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code, err := intEnv("EXIT_CODE", 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	fmt.Printf("worker %s: working for %ds\n", name, seconds)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for done := 0; done < seconds; {
		select {
		case sig := <-stop:
			fmt.Printf("worker %s: got %v after %d/%ds, stopping\n", name, sig, done, seconds)
			os.Exit(143)
		case <-tick.C:
			done++
			fmt.Printf("worker %s: %d/%d\n", name, done, seconds)
		}
	}
	fmt.Printf("worker %s: done, exiting with %d\n", name, code)
	os.Exit(code)
}

func intEnv(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a whole number >= 0", key, v)
	}
	return n, nil
}
