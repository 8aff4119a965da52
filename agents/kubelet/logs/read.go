package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/fsnotify/fsnotify"
	corev1 "k8s.io/api/core/v1"
)

// TimestampFormat is how Read prints times with Options.Timestamps (the
// kubelet's fixed-width RFC 3339).
const TimestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Options say what part of a log to read; see OptionsFrom.
type Options struct {
	// Follow keeps reading at the end of the file while Alive says so.
	Follow bool
	// Tail, when non-negative, starts at the Tail-th last line.
	Tail int64
	// Since skips lines logged before it, when not zero.
	Since time.Time
	// Timestamps prefixes every line with its time.
	Timestamps bool
	// LimitBytes, when positive, ends the output after so many bytes.
	LimitBytes int64
	// Stream, when set (Stdout or Stderr), keeps only that stream.
	Stream string
}

// OptionsFrom converts the API's PodLogOptions, relative to now.
func OptionsFrom(o *corev1.PodLogOptions, now time.Time) Options {
	opts := Options{Follow: o.Follow, Tail: -1, Timestamps: o.Timestamps}
	if o.TailLines != nil {
		opts.Tail = *o.TailLines
	}
	if o.LimitBytes != nil {
		opts.LimitBytes = *o.LimitBytes
	}
	switch {
	case o.SinceTime != nil:
		opts.Since = o.SinceTime.Time
	case o.SinceSeconds != nil:
		opts.Since = now.Add(-time.Duration(*o.SinceSeconds) * time.Second)
	}
	if o.Stream != nil {
		switch *o.Stream {
		case corev1.LogStreamStdout:
			opts.Stream = Stdout
		case corev1.LogStreamStderr:
			opts.Stream = Stderr
		}
	}
	return opts
}

// errLimit ends a read once LimitBytes are written.
var errLimit = errors.New("log byte limit reached")

// followPoll is how often a followed log is checked for its container's
// exit when the file does not change.
const followPoll = time.Second

// Read copies the CRI log file at path to w as plain text, as opts say.
// With opts.Follow it keeps waiting for new lines at the end of the file
// until alive returns false (the container exited or was restarted), then
// copies what is left and returns; it also returns when ctx ends. When w is
// an http.Flusher, it is flushed whenever Read waits for more lines.
// Lines that are not in the CRI format are skipped.
func Read(ctx context.Context, path string, opts Options, w io.Writer, alive func() bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if opts.Tail >= 0 {
		start, err := tailStart(f, opts.Tail, opts.Stream)
		if err != nil {
			return fmt.Errorf("finding the last %d lines of %s: %w", opts.Tail, path, err)
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return err
		}
	}
	out := &output{w: bufio.NewWriterSize(w, 32<<10), opts: opts, atLineStart: map[string]bool{Stdout: true, Stderr: true}, newline: [1]byte{'\n'}}
	if opts.LimitBytes > 0 {
		out.left = opts.LimitBytes
	}
	var watcher *fsnotify.Watcher
	if opts.Follow {
		if watcher, err = fsnotify.NewWatcher(); err == nil {
			defer watcher.Close()
			if err := watcher.Add(path); err != nil {
				watcher.Close()
				watcher = nil
			}
		}
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var pending []byte // a line the runtime has not finished writing
	draining := false
	for {
		line, err := r.ReadSlice('\n')
		switch {
		case err == nil:
			if len(pending) > 0 {
				line = append(pending, line...)
				pending = pending[:0]
			}
			if werr := out.record(line); werr != nil {
				return ignoreLimit(werr)
			}
			continue
		case errors.Is(err, bufio.ErrBufferFull):
			pending = append(pending, line...)
			continue
		case !errors.Is(err, io.EOF):
			return fmt.Errorf("reading %s: %w", path, err)
		}
		pending = append(pending, line...)
		if err := out.flush(w); err != nil {
			return ignoreLimit(err)
		}
		if !opts.Follow || draining {
			return nil
		}
		if !alive() {
			draining = true // read what was written before the exit, then stop
			continue
		}
		if err := wait(ctx, watcher); err != nil {
			return nil
		}
	}
}

// wait returns when the file may have grown, after followPoll, or with
// ctx's error when it ends.
func wait(ctx context.Context, watcher *fsnotify.Watcher) error {
	t := time.NewTimer(followPoll)
	defer t.Stop()
	var events chan fsnotify.Event
	var errs chan error
	if watcher != nil {
		events, errs = watcher.Events, watcher.Errors
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	case <-events:
	case <-errs:
	}
	return nil
}

func ignoreLimit(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

// output formats records as plain text.
type output struct {
	w    *bufio.Writer
	opts Options
	// left is the byte budget when LimitBytes is set.
	left int64
	// atLineStart tells, per stream, whether the next record starts a line
	// (the previous one was not partial).
	atLineStart map[string]bool
	stamp       []byte
	newline     [1]byte
}

func (o *output) record(line []byte) error {
	rec, err := parseRecord(line, o.opts.Timestamps || !o.opts.Since.IsZero())
	if err != nil {
		return nil
	}
	if o.opts.Stream != "" && rec.Stream != o.opts.Stream {
		return nil
	}
	start := o.atLineStart[rec.Stream]
	o.atLineStart[rec.Stream] = !rec.Partial
	if !o.opts.Since.IsZero() && rec.Time.Before(o.opts.Since) {
		return nil
	}
	if o.opts.Timestamps && start {
		o.stamp = rec.Time.AppendFormat(o.stamp[:0], TimestampFormat)
		o.stamp = append(o.stamp, ' ')
		if err := o.write(o.stamp); err != nil {
			return err
		}
	}
	if err := o.write(rec.Content); err != nil {
		return err
	}
	if !rec.Partial {
		return o.write(o.newline[:])
	}
	return nil
}

func (o *output) write(b []byte) error {
	if o.opts.LimitBytes > 0 {
		if int64(len(b)) >= o.left {
			_, _ = o.w.Write(b[:o.left])
			o.left = 0
			_ = o.w.Flush()
			return errLimit
		}
		o.left -= int64(len(b))
	}
	_, err := o.w.Write(b)
	return err
}

// flush pushes buffered output to w and, for HTTP, to the client.
func (o *output) flush(w io.Writer) error {
	if err := o.w.Flush(); err != nil {
		return err
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// tailBlock is how much tailStart reads at a time from the end.
const tailBlock = 32 << 10

// tailStart returns the offset of the first record of the last n lines of
// the CRI log f (of stream, when set), reading backwards from the end so a
// large file costs only what is shown. A line is a run of partial records
// ended by a full one; a trailing line the runtime is still writing is
// included but not counted.
func tailStart(f *os.File, n int64, stream string) (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := info.Size()
	var count int64
	prevNL := int64(-1) // offset of the newline ending the record after the current one
	block := make([]byte, tailBlock)
	// counts reports whether the record starting at off (its newline at
	// end) ends a line of the wanted stream.
	scratch := make([]byte, 64)
	counts := func(off, end int64, buf []byte, bufStart int64) (bool, error) {
		var hdr []byte
		if off-bufStart+64 <= int64(len(buf)) && off >= bufStart {
			hdr = buf[off-bufStart : off-bufStart+64]
		} else {
			hdr = scratch[:min(64, end-off)]
			if _, err := f.ReadAt(hdr, off); err != nil && !errors.Is(err, io.EOF) {
				return false, err
			}
		}
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			hdr = hdr[:i]
		}
		rec, err := parseRecord(hdr, false)
		if err != nil {
			return false, nil
		}
		return !rec.Partial && (stream == "" || rec.Stream == stream), nil
	}
	for blockEnd := size; blockEnd > 0; {
		blockStart := max(0, blockEnd-tailBlock)
		buf := block[:blockEnd-blockStart]
		if _, err := f.ReadAt(buf, blockStart); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(buf) - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			nl := blockStart + int64(i)
			if prevNL >= 0 {
				ok, err := counts(nl+1, prevNL, buf, blockStart)
				if err != nil {
					return 0, err
				}
				if ok {
					if count++; count > n {
						return prevNL + 1, nil
					}
				}
			}
			prevNL = nl
		}
		blockEnd = blockStart
	}
	if prevNL >= 0 {
		ok, err := counts(0, prevNL, nil, 0)
		if err != nil {
			return 0, err
		}
		if ok && count+1 > n {
			return prevNL + 1, nil
		}
	}
	return 0, nil
}
