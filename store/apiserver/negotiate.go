package apiserver

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/munnerz/goautoneg"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-io/berth/store/registry"
)

// Media types the server reads and writes.
const (
	mediaJSON     = runtime.ContentTypeJSON
	mediaYAML     = runtime.ContentTypeYAML
	mediaProtobuf = runtime.ContentTypeProtobuf
)

// Shapes a client may ask a response to be converted into (Accept: ...;as=X).
const (
	asObject       = ""
	asTable        = "Table"
	asMetadata     = "PartialObjectMetadata"
	asMetadataList = "PartialObjectMetadataList"
)

// output is the negotiated form of a response.
type output struct {
	mediaType string
	info      runtime.SerializerInfo
	as        string
}

// negotiate picks the response form from the Accept header, in the client's
// order of preference. Conversions (as=Table, ...) must name meta.k8s.io/v1.
// kind is the resource asked for (nil when there is none): a kind without
// protobuf marshalers (berth's own, stored as JSON) is never sent as
// protobuf itself, only through the meta.k8s.io conversions, as
// kube-apiserver serves a CustomResource: "protobuf, json" gets JSON and
// protobuf alone gets 406.
func (s *Server) negotiate(r *http.Request, kind *registry.Kind) (output, error) {
	header := r.Header.Get("Accept")
	if header == "" {
		header = mediaJSON
	}
	for _, accept := range goautoneg.ParseAccept(header) {
		mediaType := accept.Type + "/" + accept.SubType
		switch mediaType {
		case "*/*", "application/*":
			mediaType = mediaJSON
		}
		info, ok := s.serializerFor(mediaType)
		if !ok {
			continue
		}
		as := accept.Params["as"]
		if as != asObject {
			if accept.Params["g"] != "meta.k8s.io" || (accept.Params["v"] != "v1" && accept.Params["v"] != "v1beta1") {
				continue
			}
			switch as {
			case asTable, asMetadata, asMetadataList:
			default:
				continue
			}
		}
		if as == asObject && mediaType == mediaProtobuf && kind != nil && !servesProtobuf(kind) {
			continue
		}
		return output{mediaType: mediaType, info: info, as: as}, nil
	}
	return output{}, notAcceptable(header, kind == nil || servesProtobuf(kind))
}

// servesProtobuf reports whether objects of k can be written as protobuf:
// every k8s.io/api type has generated marshalers; berth's own kinds have
// none.
func servesProtobuf(k *registry.Kind) bool {
	_, ok := k.New().(interface{ Marshal() ([]byte, error) })
	return ok
}

func (s *Server) serializerFor(mediaType string) (runtime.SerializerInfo, bool) {
	for _, info := range s.codecs.SupportedMediaTypes() {
		if info.MediaType == mediaType {
			return info, true
		}
	}
	return runtime.SerializerInfo{}, false
}

// bodyType reads a request's Content-Type. It returns the bare media type.
func bodyType(r *http.Request) (string, error) {
	header := r.Header.Get("Content-Type")
	if header == "" {
		return mediaJSON, nil
	}
	mediaType, _, err := mime.ParseMediaType(header)
	if err != nil {
		return "", fmt.Errorf("invalid Content-Type %q: %w", header, err)
	}
	return strings.ToLower(mediaType), nil
}
