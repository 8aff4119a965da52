package openapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// BenchmarkNew measures building the documents of every built-in kind.
func BenchmarkNew(b *testing.B) {
	kinds := schemeKinds(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(kinds); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstServe measures building the documents of berth's kinds and
// serving each once (v2 as JSON and protobuf, every v3 document), which
// marshals them, and reports the heap the Document keeps afterwards.
func BenchmarkFirstServe(b *testing.B) {
	for _, set := range []struct {
		name  string
		kinds []Kind
	}{{"berth", berthKinds()}, {"all", schemeKinds(b)}} {
		b.Run(set.name, func(b *testing.B) {
			var retained float64
			for b.Loop() {
				before := heapInUse()
				d, err := New(set.kinds)
				if err != nil {
					b.Fatal(err)
				}
				h := d.Handler()
				serve(b, h, "/openapi/v2", "application/json")
				serve(b, h, "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
				for gv := range d.v3 {
					serve(b, h, "/openapi/v3/"+gv, "application/json")
				}
				retained = float64(heapInUse()-before) / (1 << 20)
				runtime.KeepAlive(d)
			}
			b.ReportMetric(retained, "retained-MiB")
		})
	}
}

func serve(b *testing.B, h http.Handler, path, accept string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept", accept)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d", path, rec.Code)
	}
	if _, err := io.Copy(io.Discard, rec.Body); err != nil {
		b.Fatal(err)
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}
