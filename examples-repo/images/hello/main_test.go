package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

func TestHelloGreetsWithPodNameAndVersion(t *testing.T) {
	h := newHandler("web-1", "v2", filepath.Join(t.TempDir(), "unhealthy"))
	if code, body := get(t, h, "/anything"); code != 200 || body != "hello from web-1 (version v2)\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

func TestHealthzFailsWhileTheFileExistsOrTheEnvSaysSo(t *testing.T) {
	file := filepath.Join(t.TempDir(), "unhealthy")
	h := newHandler("web-1", "v1", file)
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("healthy: %d", code)
	}
	os.WriteFile(file, nil, 0o644)
	if code, body := get(t, h, "/healthz"); code != 500 {
		t.Errorf("with %s: %d %q, want 500", file, code, body)
	}
	os.Remove(file)
	t.Setenv("UNHEALTHY", "true")
	if code, _ := get(t, h, "/healthz"); code != 500 {
		t.Errorf("UNHEALTHY=true: %d, want 500", code)
	}
	t.Setenv("UNHEALTHY", "false")
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("UNHEALTHY=false: %d, want 200", code)
	}
}
