package apiserver

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-io/berth/store/storage"
	"github.com/berth-io/berth/store/watchcache"
)

// statusFor turns any error into the metav1.Status kube-apiserver would send.
func statusFor(err error, gr schema.GroupResource, name string) *metav1.Status {
	var status apierrors.APIStatus
	switch {
	case errors.As(err, &status):
		s := status.Status()
		return &s
	case errors.Is(err, storage.ErrNotFound):
		return statusOf(apierrors.NewNotFound(gr, name))
	case errors.Is(err, storage.ErrExists):
		return statusOf(apierrors.NewAlreadyExists(gr, name))
	case errors.Is(err, storage.ErrTooLarge):
		return statusOf(apierrors.NewRequestEntityTooLargeError("the object is larger than etcd's request limit"))
	case errors.Is(err, storage.ErrCompacted), errors.Is(err, watchcache.ErrGone):
		return statusOf(apierrors.NewResourceExpired("The resourceVersion for the provided list is too old."))
	case errors.Is(err, watchcache.ErrTooLarge):
		s := apierrors.NewTimeoutError(err.Error(), 1).Status()
		s.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}}
		return &s
	}
	return statusOf(apierrors.NewInternalError(err))
}

func statusOf(err apierrors.APIStatus) *metav1.Status {
	s := err.Status()
	return &s
}

// notAcceptable answers an Accept header naming no media type the
// resource is served in; protobuf says whether it is one of them.
func notAcceptable(header string, protobuf bool) error {
	types := "application/json, application/yaml"
	if protobuf {
		types += ", application/vnd.kubernetes.protobuf"
	}
	return apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "", fmt.Sprintf("only the following media types are accepted: %s (asked for %q)", types, header), 0, false)
}

func unsupportedMediaType(mediaType string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "", fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got %q)", mediaType), 0, false)
}

func methodNotAllowed(verb string, gr schema.GroupResource) error {
	return apierrors.NewMethodNotSupported(gr, verb)
}

// writeStatus sends err as a metav1.Status, as JSON unless the client
// negotiated another serializer.
func (s *Server) writeStatus(w http.ResponseWriter, out output, err error, gr schema.GroupResource, name string) {
	status := statusFor(err, gr, name)
	status.Kind, status.APIVersion = "Status", "v1"
	if status.Code == 0 {
		status.Code = http.StatusInternalServerError
	}
	if out.info.Serializer == nil {
		out.info, _ = s.serializerFor(mediaJSON)
		out.mediaType = mediaJSON
	}
	if status.Code == http.StatusTooManyRequests || status.Code == http.StatusGatewayTimeout {
		if status.Details != nil && status.Details.RetryAfterSeconds > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(status.Details.RetryAfterSeconds)))
		}
	}
	s.writeRaw(w, out, int(status.Code), status)
}

// writeObject sends obj (already converted to the negotiated shape).
func (s *Server) writeObject(w http.ResponseWriter, out output, code int, obj runtime.Object) {
	s.writeRaw(w, out, code, obj)
}

func (s *Server) writeRaw(w http.ResponseWriter, out output, code int, obj runtime.Object) {
	var buf bytes.Buffer
	if err := s.encode(out.info.Serializer, obj, &buf); err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", out.mediaType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// encode writes obj with its apiVersion and kind filled in. Shared (cached)
// objects already carry them and are not modified.
func (s *Server) encode(enc runtime.Encoder, obj runtime.Object, buf *bytes.Buffer) error {
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		gvks, _, err := s.scheme.ObjectKinds(obj)
		if err != nil {
			return err
		}
		obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	}
	return enc.Encode(obj, buf)
}
