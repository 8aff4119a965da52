package apiserver

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/berth-io/berth/store/watchcache"
)

// initialEventsAnnotation marks the bookmark that ends a streaming list.
const initialEventsAnnotation = "k8s.io/initial-events-end"

// watch streams changes: from a resourceVersion, or (streaming list) an
// ADDED event per object followed by a bookmark marking the end of them.
func (c *call) watch() {
	filter, err := filterFrom(c.kind, c.query, c.info.Namespace)
	if err != nil {
		c.fail(err)
		return
	}
	if c.info.Name != "" {
		sel, err := filterFrom(c.kind, map[string][]string{"fieldSelector": {"metadata.name=" + c.info.Name}}, c.info.Namespace)
		if err != nil {
			c.fail(err)
			return
		}
		filter.Field = sel.Field
	}
	opts := watchcache.WatchOptions{Filter: filter, Bookmarks: isTrue(c.query.Get("allowWatchBookmarks"))}
	rv := c.query.Get("resourceVersion")
	sendInitial := c.query.Get("sendInitialEvents")
	switch {
	case sendInitial == "true":
		if c.query.Get("resourceVersionMatch") != string(metav1.ResourceVersionMatchNotOlderThan) || !opts.Bookmarks {
			c.fail(apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("ListOptions").GroupKind(), "", nil))
			return
		}
		opts.InitialEvents = true
		if err := c.readTarget(); err != nil {
			c.fail(err)
			return
		}
	case rv == "" || rv == "0":
		opts.InitialEvents = true
	default:
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil {
			c.fail(apierrors.NewBadRequest("invalid resource version " + strconv.Quote(rv)))
			return
		}
		opts.Revision = n
	}
	timeout := 30*time.Minute + time.Duration(rand.Int64N(int64(30*time.Minute)))
	if t := c.query.Get("timeoutSeconds"); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			c.fail(apierrors.NewBadRequest("timeoutSeconds must be a non-negative number"))
			return
		}
		timeout = time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()

	stream := c.newEventStream()
	w, err := c.cache.Watch(opts)
	if errors.Is(err, watchcache.ErrGone) {
		stream.start()
		stream.send(&watchcache.Event{Type: watch.Error, Object: statusFor(err, c.kind.GroupResource(), "")})
		return
	}
	if err != nil {
		c.fail(err)
		return
	}
	defer w.Stop()
	c.s.metrics.watchers.WithLabelValues(c.kind.GVK.Group, c.kind.Resource).Inc()
	defer c.s.metrics.watchers.WithLabelValues(c.kind.GVK.Group, c.kind.Resource).Dec()
	stream.start()
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			return
		}
		if ev.Type == watch.Bookmark && !opts.Bookmarks {
			continue
		}
		if !stream.send(ev) {
			return
		}
		if !w.Pending() {
			stream.flush()
		}
	}
}

// eventStream writes framed watch events in the negotiated media type.
type eventStream struct {
	c       *call
	w       http.ResponseWriter
	rc      *http.ResponseController
	info    runtime.SerializerInfo
	cacheAs string // key for memoised frames; empty when frames are per-watcher
	frame   func([]byte) error
}

func (c *call) newEventStream() *eventStream {
	info := c.out.info
	es := &eventStream{c: c, w: c.w, rc: http.NewResponseController(c.w), info: info}
	if c.out.as == asObject {
		es.cacheAs = c.out.mediaType
	}
	return es
}

func (es *eventStream) start() {
	contentType := es.c.out.mediaType
	if contentType != mediaJSON {
		contentType += ";stream=watch"
	}
	es.w.Header().Set("Content-Type", contentType)
	es.w.Header().Set("Cache-Control", "no-cache, private")
	es.w.WriteHeader(http.StatusOK)
	fw := es.info.StreamSerializer.Framer.NewFrameWriter(es.w)
	es.frame = func(b []byte) error { _, err := fw.Write(b); return err }
	es.flush()
}

func (es *eventStream) flush() { _ = es.rc.Flush() }

// send writes one event; false means the client is gone.
func (es *eventStream) send(ev *watchcache.Event) bool {
	data, err := es.encoded(ev)
	if err != nil {
		es.c.s.cfg.Log.Error("encoding a watch event", "resource", es.c.kind.Resource, "err", err)
		return false
	}
	return es.frame(data) == nil
}

// encoded returns the event's frame, shared by every watcher that asked
// for the same media type.
func (es *eventStream) encoded(ev *watchcache.Event) ([]byte, error) {
	if es.cacheAs != "" && ev.Type != watch.Bookmark {
		if b, ok := ev.Cache.Load(es.cacheAs); ok {
			return b.([]byte), nil
		}
	}
	ev.Encoding.Lock()
	defer ev.Encoding.Unlock()
	if es.cacheAs != "" && ev.Type != watch.Bookmark {
		if b, ok := ev.Cache.Load(es.cacheAs); ok {
			return b.([]byte), nil
		}
	}
	obj := ev.Object
	switch {
	case ev.Type == watch.Bookmark:
		obj = es.bookmark(ev)
	case ev.Type == watch.Error:
	case es.c.out.as == asTable:
		obj = es.c.s.table(es.c.kind, []runtime.Object{obj}, metav1.ListMeta{}, es.c.query.Get("includeObject"))
	case es.c.out.as == asMetadata, es.c.out.as == asMetadataList:
		obj = partialMetadata(obj)
	}
	var inner bytes.Buffer
	if err := es.c.s.encode(es.info.Serializer, obj, &inner); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := es.info.StreamSerializer.Serializer.Encode(&metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: inner.Bytes()}}, &out); err != nil {
		return nil, err
	}
	data := out.Bytes()
	if es.cacheAs != "" && ev.Type != watch.Bookmark && ev.Type != watch.Error {
		ev.Cache.Store(es.cacheAs, data)
	}
	return data, nil
}

// bookmark is an empty object of the kind carrying only a resourceVersion.
func (es *eventStream) bookmark(ev *watchcache.Event) runtime.Object {
	obj := es.c.kind.New()
	obj.GetObjectKind().SetGroupVersionKind(es.c.kind.GVK)
	a, _ := meta.Accessor(obj)
	a.SetResourceVersion(strconv.FormatInt(ev.Rev, 10))
	if ev.InitialEnd {
		a.SetAnnotations(map[string]string{initialEventsAnnotation: "true"})
	}
	if es.c.out.as == asMetadata || es.c.out.as == asMetadataList {
		return partialMetadata(obj)
	}
	return obj
}
