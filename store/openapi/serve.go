package openapi

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"github.com/munnerz/goautoneg"
	"google.golang.org/protobuf/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Media types of the OpenAPI v2 document. kubectl and client-go ask for the
// protobuf form with the "@" spelling; upstream answers with the "." one.
const (
	mediaTypeJSON             = "application/json"
	mediaTypeV2Protobuf       = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mediaTypeV2ProtobufLegacy = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
)

// Handler serves GET (and HEAD) of /openapi/v2, /openapi/v3 and
// /openapi/v3/<group-version path>, e.g. /openapi/v3/apis/apps/v1. Other
// paths under it answer 404, other methods 405. Mount it at /openapi/.
//
// /openapi/v2 answers JSON or protobuf by the Accept header, with an ETag
// that If-None-Match honours. /openapi/v3 is the index of group-version
// documents, each linked with ?hash=<etag>; a document fetched with its
// current hash may be cached forever, one fetched with a stale hash
// redirects to the current one.
func (d *Document) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi/v2", d.v2.serve)
	mux.HandleFunc("GET /openapi/v3", d.v3.HandleDiscovery)
	mux.HandleFunc("GET /openapi/v3/", func(w http.ResponseWriter, r *http.Request) {
		if !d.gvs[strings.TrimPrefix(r.URL.Path, "/openapi/v3/")] {
			http.NotFound(w, r)
			return
		}
		d.v3.HandleGroupVersion(w, r)
	})
	return mux
}

// servedV2 is the OpenAPI v2 document and its encodings, made on first
// use.
type servedV2 struct {
	modified time.Time
	json     func() (encoded, error)
	proto    func() (encoded, error)
}

// encoded is a document in one media type, and the ETag of its content.
type encoded struct {
	body []byte
	etag string
}

func newServedV2(swagger *spec.Swagger, modified time.Time) *servedV2 {
	s := &servedV2{modified: modified}
	s.json = sync.OnceValues(func() (encoded, error) {
		b, err := json.Marshal(swagger)
		if err != nil {
			return encoded{}, fmt.Errorf("openapi: encoding the v2 document as JSON: %w", err)
		}
		return encoded{body: b, etag: fmt.Sprintf("%X", sha512.Sum512(b))}, nil
	})
	// The protobuf form shares the JSON form's ETag, as upstream's does:
	// the two differ by Vary: Accept.
	s.proto = sync.OnceValues(func() (encoded, error) {
		j, err := s.json()
		if err != nil {
			return encoded{}, err
		}
		doc, err := openapi_v2.ParseDocument(j.body)
		if err != nil {
			return encoded{}, fmt.Errorf("openapi: parsing the v2 document for protobuf: %w", err)
		}
		b, err := proto.Marshal(doc)
		if err != nil {
			return encoded{}, fmt.Errorf("openapi: encoding the v2 document as protobuf: %w", err)
		}
		return encoded{body: b, etag: j.etag}, nil
	})
	return s
}

func (s *servedV2) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	mediaType, ok := negotiate(r.Header.Get("Accept"), mediaTypeJSON, mediaTypeV2Protobuf, mediaTypeV2ProtobufLegacy)
	if !ok {
		http.Error(w, "the OpenAPI v2 document is served as "+mediaTypeJSON+" or "+mediaTypeV2Protobuf, http.StatusNotAcceptable)
		return
	}
	encode := s.json
	if mediaType != mediaTypeJSON {
		mediaType, encode = mediaTypeV2Protobuf, s.proto
	}
	doc, err := encode()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Etag", strconv.Quote(doc.etag))
	http.ServeContent(w, r, "", s.modified, bytes.NewReader(doc.body))
}

// negotiate picks the first of offers the Accept header allows, in the
// header's order of preference; an empty header allows anything.
func negotiate(accept string, offers ...string) (string, bool) {
	if accept == "" {
		accept = "*/*"
	}
	for _, clause := range goautoneg.ParseAccept(accept) {
		for _, offer := range offers {
			typ, sub, _ := strings.Cut(offer, "/")
			if (clause.Type == typ || clause.Type == "*") && (clause.SubType == sub || clause.SubType == "*") {
				return offer, true
			}
		}
	}
	return "", false
}
