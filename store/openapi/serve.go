package openapi

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"github.com/munnerz/goautoneg"
	"google.golang.org/protobuf/proto"
	"k8s.io/kube-openapi/pkg/handler3"
)

// Media types of the documents. kubectl and client-go ask for the protobuf
// forms with the "@" spelling; upstream answers with the "." one.
const (
	mediaTypeJSON       = "application/json"
	mediaTypeV2Protobuf = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mediaTypeV3Protobuf = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
)

var (
	v2MediaTypes = mediaTypes{
		{mediaTypeJSON, mediaTypeJSON},
		{mediaTypeV2Protobuf, mediaTypeV2Protobuf},
		{"application/com.github.proto-openapi.spec.v2@v1.0+protobuf", mediaTypeV2Protobuf},
	}
	v3MediaTypes = mediaTypes{
		{mediaTypeJSON, mediaTypeJSON},
		{mediaTypeV3Protobuf, mediaTypeV3Protobuf},
		{"application/com.github.proto-openapi.spec.v3@v1.0+protobuf", mediaTypeV3Protobuf},
	}
)

// Handler serves GET (and HEAD) of /openapi/v2, /openapi/v3 and
// /openapi/v3/<group-version path>, e.g. /openapi/v3/apis/apps/v1. Other
// paths under it answer 404, other methods 405. Mount it at /openapi/.
//
// Documents are JSON or protobuf by the Accept header, with an ETag that
// If-None-Match honours. /openapi/v3 is the index of group-version
// documents, each linked with ?hash=<ETag>: a document fetched with its
// current hash may be cached forever, one asked for with another hash
// redirects to the current one.
func (d *Document) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi/v2", func(w http.ResponseWriter, r *http.Request) {
		d.v2.serve(w, r, v2MediaTypes)
	})
	mux.HandleFunc("GET /openapi/v3", d.serveIndex)
	mux.HandleFunc("GET /openapi/v3/", d.serveGroupVersion)
	return mux
}

// serveIndex answers the list of group-version documents and their hashes.
func (d *Document) serveIndex(w http.ResponseWriter, r *http.Request) {
	index, err := d.index()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaTypeJSON)
	w.Header().Set("Etag", strconv.Quote(index.etag))
	http.ServeContent(w, r, "", d.modified, bytes.NewReader(index.body))
}

// buildIndex encodes the v3 index. It needs the hash of every document,
// so it encodes each as JSON.
func (d *Document) buildIndex() (encoded, error) {
	index := handler3.OpenAPIV3Discovery{Paths: map[string]handler3.OpenAPIV3DiscoveryGroupVersion{}}
	for gv, doc := range d.v3 {
		j, err := doc.json()
		if err != nil {
			return encoded{}, err
		}
		index.Paths[gv] = handler3.OpenAPIV3DiscoveryGroupVersion{ServerRelativeURL: v3URL(gv, j.etag)}
	}
	return encode(index)
}

// v3URL is where the document of group-version path gv with ETag etag is
// served.
func v3URL(gv, etag string) string {
	return "/openapi/v3/" + gv + "?" + url.Values{"hash": {etag}}.Encode()
}

// serveGroupVersion answers one group-version document. A request with the
// current hash may be cached forever; one with another hash is sent to
// the current URL.
func (d *Document) serveGroupVersion(w http.ResponseWriter, r *http.Request) {
	gv := strings.TrimPrefix(r.URL.Path, "/openapi/v3/")
	doc, ok := d.v3[gv]
	if !ok {
		http.Error(w, fmt.Sprintf("no OpenAPI v3 document for %q; /openapi/v3 lists them", gv), http.StatusNotFound)
		return
	}
	if hash := r.URL.Query().Get("hash"); hash != "" {
		j, err := doc.json()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if hash != j.etag {
			http.Redirect(w, r, v3URL(gv, j.etag), http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	}
	doc.serve(w, r, v3MediaTypes)
}

// document is one OpenAPI document: built at start-up, encoded on first
// use. Building it again for every encoding would cost time; keeping the
// built form would cost memory (about 4 MiB per group-version), so it is
// dropped once encoded as JSON, from which the protobuf form is made.
type document struct {
	modified time.Time
	json     func() (encoded, error)
	proto    func() (encoded, error)
}

// encoded is a document in one media type, and the ETag of its content.
type encoded struct {
	body []byte
	etag string
}

// newDocument wraps the built document spec, which encoding/json can
// marshal; toProto turns its JSON form into its protobuf form.
func newDocument(spec any, modified time.Time, toProto func([]byte) ([]byte, error)) *document {
	doc := &document{modified: modified}
	doc.json = sync.OnceValues(func() (encoded, error) { return encode(spec) })
	// The protobuf form shares the JSON form's ETag, as upstream's does:
	// the two differ by Vary: Accept.
	doc.proto = sync.OnceValues(func() (encoded, error) {
		j, err := doc.json()
		if err != nil {
			return encoded{}, err
		}
		b, err := toProto(j.body)
		if err != nil {
			return encoded{}, fmt.Errorf("openapi: encoding a document as protobuf: %w", err)
		}
		return encoded{body: b, etag: j.etag}, nil
	})
	return doc
}

// encode marshals v as JSON; the ETag is the hex SHA-512 of the bytes, as
// upstream computes it.
func encode(v any) (encoded, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return encoded{}, fmt.Errorf("openapi: encoding a document as JSON: %w", err)
	}
	return encoded{body: b, etag: fmt.Sprintf("%X", sha512.Sum512(b))}, nil
}

// v2Protobuf turns an OpenAPI v2 document from JSON into gnostic's
// protobuf form.
func v2Protobuf(j []byte) ([]byte, error) {
	doc, err := openapi_v2.ParseDocument(j)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(doc)
}

// serve answers doc in the media type of types the request prefers.
func (doc *document) serve(w http.ResponseWriter, r *http.Request, types mediaTypes) {
	w.Header().Add("Vary", "Accept")
	mediaType, ok := types.negotiate(r.Header.Get("Accept"))
	if !ok {
		http.Error(w, "OpenAPI documents are served as "+strings.Join(types.answers(), " or "), http.StatusNotAcceptable)
		return
	}
	encoding := doc.json
	if mediaType != mediaTypeJSON {
		encoding = doc.proto
	}
	e, err := encoding()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Etag", strconv.Quote(e.etag))
	http.ServeContent(w, r, "", doc.modified, bytes.NewReader(e.body))
}

// mediaType is a media type a document is asked for by, and the one it is
// answered with.
type mediaType struct{ asked, answered string }

// mediaTypes are the media types of a document, in order of preference.
type mediaTypes []mediaType

// negotiate picks the media type to answer by the Accept header, in the
// header's order of preference, then m's; an empty header accepts
// anything.
func (m mediaTypes) negotiate(accept string) (string, bool) {
	if accept == "" {
		accept = "*/*"
	}
	for _, clause := range goautoneg.ParseAccept(accept) {
		for _, offer := range m {
			typ, sub, _ := strings.Cut(offer.asked, "/")
			if (clause.Type == typ || clause.Type == "*") && (clause.SubType == sub || clause.SubType == "*") {
				return offer.answered, true
			}
		}
	}
	return "", false
}

// answers is the distinct media types m answers with.
func (m mediaTypes) answers() []string {
	var out []string
	for _, t := range m {
		if !slices.Contains(out, t.answered) {
			out = append(out, t.answered)
		}
	}
	return out
}
