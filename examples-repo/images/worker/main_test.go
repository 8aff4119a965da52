package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

// ticks is a tick channel holding n ticks.
func ticks(n int) <-chan time.Time {
	c := make(chan time.Time, n)
	for range n {
		c <- time.Time{}
	}
	return c
}

func TestWorkerWorksTheStepsThenExitsWithExitCode(t *testing.T) {
	var out strings.Builder
	code := run(env(map[string]string{"WORK_SECONDS": "2", "EXIT_CODE": "4", "POD_NAME": "job-x"}), &out, nil, ticks(2))
	want := "worker job-x: working for 2s\nworker job-x: 1/2\nworker job-x: 2/2\nworker job-x: done, exiting with 4\n"
	if code != 4 || out.String() != want {
		t.Errorf("exit %d, output:\n%s\nwant exit 4, output:\n%s", code, out.String(), want)
	}
}

func TestWorkerStopsOnSIGTERM(t *testing.T) {
	var out strings.Builder
	stop := make(chan os.Signal, 1)
	stop <- syscall.SIGTERM
	if code := run(env(map[string]string{"POD_NAME": "j"}), &out, stop, nil); code != 143 || !strings.Contains(out.String(), "got terminated after 0/3s") {
		t.Errorf("exit %d, output:\n%s", code, out.String())
	}
}

func TestWorkerRefusesBadNumbers(t *testing.T) {
	var out strings.Builder
	if code := run(env(map[string]string{"WORK_SECONDS": "soon"}), &out, nil, nil); code != 2 || !strings.Contains(out.String(), `WORK_SECONDS="soon"`) {
		t.Errorf("exit %d, output %q", code, out.String())
	}
}
