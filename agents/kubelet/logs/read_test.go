package logs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// rec is a record at t0 plus sec seconds.
func rec(sec int, stream string, partial bool, content string) Record {
	return Record{Time: t0.Add(time.Duration(sec) * time.Second), Stream: stream, Partial: partial, Content: []byte(content)}
}

func writeLog(t testing.TB, recs ...Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	appendLog(t, path, recs...)
	return path
}

func appendLog(t testing.TB, path string, recs ...Record) {
	t.Helper()
	var b []byte
	for _, r := range recs {
		b = AppendRecord(b, r)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string, opts Options) string {
	t.Helper()
	var out bytes.Buffer
	if err := Read(context.Background(), path, opts, &out, func() bool { return false }); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestPaths(t *testing.T) {
	if got, want := PodDir("/var/log/pods", "default", "web", "u1"), "/var/log/pods/default_web_u1"; got != want {
		t.Errorf("PodDir = %q, want %q", got, want)
	}
	if got, want := ContainerFile("app", 3), "app/3.log"; got != want {
		t.Errorf("ContainerFile = %q, want %q", got, want)
	}
}

func TestParseRecord(t *testing.T) {
	cases := []struct {
		line    string
		want    Record
		wantErr bool
	}{
		{line: "2026-11-26T08:00:00.123456789Z stdout F hello world\n", want: Record{Time: t0.Add(123456789), Stream: Stdout, Content: []byte("hello world")}},
		{line: "2026-11-26T08:00:00Z stderr P part", want: Record{Time: t0, Stream: Stderr, Partial: true, Content: []byte("part")}},
		{line: "2026-11-26T08:00:00Z stdout F:x:y tagged", want: Record{Time: t0, Stream: Stdout, Content: []byte("tagged")}},
		{line: "2026-11-26T08:00:00Z stdout F", want: Record{Time: t0, Stream: Stdout}},
		{line: "2026-11-26T08:00:00Z stdout F  two spaces", want: Record{Time: t0, Stream: Stdout, Content: []byte(" two spaces")}},
		{line: "not-a-time stdout F x", wantErr: true},
		{line: "2026-11-26T08:00:00Z stdin F x", wantErr: true},
		{line: "2026-11-26T08:00:00Z stdout X x", wantErr: true},
		{line: "2026-11-26T08:00:00Z", wantErr: true},
	}
	for _, c := range cases {
		got, err := ParseRecord([]byte(c.line))
		if (err != nil) != c.wantErr {
			t.Errorf("ParseRecord(%q) error = %v, want error %v", c.line, err, c.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if !got.Time.Equal(c.want.Time) || got.Stream != c.want.Stream || got.Partial != c.want.Partial || string(got.Content) != string(c.want.Content) {
			t.Errorf("ParseRecord(%q) = %+v, want %+v", c.line, got, c.want)
		}
	}
}

func TestRead(t *testing.T) {
	path := writeLog(t,
		rec(0, Stdout, false, "one"),
		rec(1, Stderr, false, "two (err)"),
		rec(2, Stdout, true, "thr"),
		rec(2, Stdout, true, "e"),
		rec(3, Stdout, false, "e!"),
		rec(4, Stdout, false, "four"),
	)
	tail := func(n int64) Options { return Options{Tail: n} }
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"everything", Options{Tail: -1}, "one\ntwo (err)\nthree!\nfour\n"},
		{"tail 1", tail(1), "four\n"},
		{"tail 2 joins a partial line", tail(2), "three!\nfour\n"},
		{"tail 3", tail(3), "two (err)\nthree!\nfour\n"},
		{"tail beyond the start", tail(10), "one\ntwo (err)\nthree!\nfour\n"},
		{"tail 0", tail(0), ""},
		{"stdout only", Options{Tail: -1, Stream: Stdout}, "one\nthree!\nfour\n"},
		{"stderr only", Options{Tail: -1, Stream: Stderr}, "two (err)\n"},
		{"tail 3 of stdout", Options{Tail: 3, Stream: Stdout}, "one\nthree!\nfour\n"},
		{"since", Options{Tail: -1, Since: t0.Add(3 * time.Second)}, "e!\nfour\n"},
		{"timestamps", Options{Tail: 2, Timestamps: true}, "2026-11-26T08:00:02.000000000Z three!\n2026-11-26T08:00:04.000000000Z four\n"},
		{"limit bytes", Options{Tail: -1, LimitBytes: 6}, "one\ntw"},
		{"limit bytes larger than the log", Options{Tail: -1, LimitBytes: 1000}, "one\ntwo (err)\nthree!\nfour\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := read(t, path, c.opts); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestReadSkipsMalformedLinesAndKeepsAnUnfinishedOne(t *testing.T) {
	path := writeLog(t, rec(0, Stdout, false, "good"))
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("garbage line\n" + "2026-11-26T08:00:09Z stdout F unfinished")
	_ = f.Close()
	if got, want := read(t, path, Options{Tail: -1}), "good\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := read(t, path, Options{Tail: 1}), "good\n"; got != want {
		t.Errorf("tail 1: got %q, want %q", got, want)
	}
}

// TestTailLargeFile crosses the backwards-reading block boundary many
// times, with lines longer than the reader's buffer.
func TestTailLargeFile(t *testing.T) {
	var recs []Record
	for i := range 20000 {
		content := fmt.Sprintf("line %05d", i)
		if i%1000 == 7 {
			content += strings.Repeat("x", 100<<10)
		}
		recs = append(recs, rec(i, Stdout, false, content))
	}
	path := writeLog(t, recs...)
	for _, n := range []int64{1, 5, 999, 1500, 19999, 20000, 30000} {
		got := strings.Split(strings.TrimSuffix(read(t, path, Options{Tail: n}), "\n"), "\n")
		want := min(n, 20000)
		if int64(len(got)) != want {
			t.Fatalf("tail %d: got %d lines", n, len(got))
		}
		if first := fmt.Sprintf("line %05d", 20000-want); !strings.HasPrefix(got[0], first) {
			t.Errorf("tail %d: first line %.20q, want %q", n, got[0], first)
		}
	}
}

func TestOptionsFrom(t *testing.T) {
	now := t0
	tail, limit, since := int64(5), int64(100), int64(60)
	stderr := corev1.LogStreamStderr
	got := OptionsFrom(&corev1.PodLogOptions{Follow: true, TailLines: &tail, LimitBytes: &limit, SinceSeconds: &since, Timestamps: true, Stream: &stderr}, now)
	want := Options{Follow: true, Tail: 5, LimitBytes: 100, Since: now.Add(-time.Minute), Timestamps: true, Stream: Stderr}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	st := metav1.NewTime(t0.Add(-time.Hour))
	if got := OptionsFrom(&corev1.PodLogOptions{SinceTime: &st}, now); got.Tail != -1 || !got.Since.Equal(st.Time) {
		t.Errorf("sinceTime: got %+v", got)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFollowStreamsUntilTheContainerStops(t *testing.T) {
	path := writeLog(t, rec(0, Stdout, false, "old"), rec(1, Stdout, false, "last"))
	var running atomic.Bool
	running.Store(true)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Read(context.Background(), path, Options{Follow: true, Tail: 1}, out, running.Load)
	}()
	waitFor(t, "the tail", func() bool { return out.String() == "last\n" })
	appendLog(t, path, rec(2, Stdout, false, "new 1"))
	waitFor(t, "an appended line", func() bool { return out.String() == "last\nnew 1\n" })
	appendLog(t, path, rec(3, Stdout, true, "new "), rec(3, Stdout, false, "2"))
	waitFor(t, "a joined line", func() bool { return out.String() == "last\nnew 1\nnew 2\n" })
	// The container writes its last line and exits: the line is still read.
	appendLog(t, path, rec(4, Stdout, false, "bye"))
	running.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the container stopped")
	}
	if got, want := out.String(), "last\nnew 1\nnew 2\nbye\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFollowEndsWithTheContext(t *testing.T) {
	path := writeLog(t, rec(0, Stdout, false, "x"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Read(ctx, path, Options{Follow: true, Tail: -1}, io.Discard, func() bool { return true })
	}()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end with its context")
	}
}

// BenchmarkTail reads the last 10 lines of a 64 MiB log: the cost must not
// grow with the file (it reads backwards from the end).
func BenchmarkTail(b *testing.B) {
	line := strings.Repeat("x", 100)
	var recs []Record
	for i := range 500_000 {
		recs = append(recs, rec(i, Stdout, false, line))
	}
	path := writeLog(b, recs...)
	b.ResetTimer()
	for b.Loop() {
		if err := Read(context.Background(), path, Options{Tail: 10}, io.Discard, func() bool { return false }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead formats a whole log of 100-byte lines, plain and with
// timestamps.
func BenchmarkRead(b *testing.B) {
	line := strings.Repeat("x", 100)
	var recs []Record
	const n = 100_000
	for i := range n {
		recs = append(recs, rec(i, Stdout, false, line))
	}
	path := writeLog(b, recs...)
	for name, opts := range map[string]Options{"plain": {Tail: -1}, "timestamps": {Tail: -1, Timestamps: true}} {
		b.Run(name, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				if err := Read(context.Background(), path, opts, io.Discard, func() bool { return false }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "lines/s")
		})
	}
}
