// Package logs is the kubelet's side of container logs: where the runtime
// writes them (PodDir, ContainerFile), the CRI log format, reading them
// with `kubectl logs` options (tail, since, timestamps, limit, previous,
// follow), and the HTTPS endpoint the API server calls for pods/log.
package logs

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// PodDir is the directory of a pod's container logs under root (the
// kubelet's /var/log/pods): <root>/<namespace>_<name>_<uid>. It is the CRI
// PodSandboxConfig.LogDirectory.
func PodDir(root, namespace, name string, uid types.UID) string {
	return filepath.Join(root, namespace+"_"+name+"_"+string(uid))
}

// ContainerFile is a container's log file for one run, relative to its
// PodDir: <container>/<restartCount>.log. It is the CRI
// ContainerConfig.LogPath.
func ContainerFile(container string, restartCount int) string {
	return filepath.Join(container, strconv.Itoa(restartCount)+".log")
}

// Streams of a CRI log record.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Record is one line of a CRI log file:
//
//	<RFC3339Nano time> <stdout|stderr> <P|F>[:more tags] <content>
//
// A record tagged P (partial) is continued by the next record of its
// stream; F ends a line.
type Record struct {
	Time    time.Time
	Stream  string
	Partial bool
	// Content is the text without the line's newline.
	Content []byte
}

// ParseRecord parses one CRI log line, with or without its newline. The
// Content slice aliases line.
func ParseRecord(line []byte) (Record, error) {
	return parseRecord(line, true)
}

// parseRecord parses a CRI log line; without withTime the time is left
// zero (parsing it costs more than the rest of the line).
func parseRecord(line []byte, withTime bool) (Record, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return Record{}, fmt.Errorf("CRI log line %q: no stream after the time", abbrev(line))
	}
	var t time.Time
	if withTime {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, string(ts)); err != nil {
			return Record{}, fmt.Errorf("CRI log line %q: time: %w", abbrev(line), err)
		}
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return Record{}, fmt.Errorf("CRI log line %q: no tag after the stream", abbrev(line))
	}
	var name string
	switch string(stream) {
	case Stdout:
		name = Stdout
	case Stderr:
		name = Stderr
	default:
		return Record{}, fmt.Errorf("CRI log line %q: stream %q is neither stdout nor stderr", abbrev(line), stream)
	}
	tags, content, _ := bytes.Cut(rest, []byte{' '})
	tag, _, _ := bytes.Cut(tags, []byte{':'})
	var partial bool
	switch string(tag) {
	case "P":
		partial = true
	case "F":
	default:
		return Record{}, fmt.Errorf("CRI log line %q: tag %q is neither P nor F", abbrev(line), tag)
	}
	return Record{Time: t, Stream: name, Partial: partial, Content: content}, nil
}

// AppendRecord appends r in CRI form (with its newline) to b: what a
// runtime writes, for tests and tools.
func AppendRecord(b []byte, r Record) []byte {
	b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, r.Stream...)
	if r.Partial {
		b = append(b, " P "...)
	} else {
		b = append(b, " F "...)
	}
	b = append(b, r.Content...)
	return append(b, '\n')
}

func abbrev(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}
