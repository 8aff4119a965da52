package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fixture is a webhook server for the sources "apps/web" (secret "s3cret")
// and "apps/nosecret" (no secret), recording the syncs it triggers.
type fixture struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []string
}

func newFixture(t *testing.T, maxBody int64) *fixture {
	f := &fixture{}
	h := New(Config{
		Secret: func(_ context.Context, ns, name string) ([]byte, error) {
			switch ns + "/" + name {
			case "apps/web":
				return []byte("s3cret"), nil
			case "apps/nosecret":
				return nil, nil
			}
			return nil, ErrNotFound
		},
		Trigger: func(ns, name string) {
			f.mu.Lock()
			f.got = append(f.got, ns+"/"+name)
			f.mu.Unlock()
		},
		MaxBody: maxBody,
	})
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	mux.Handle(Path+"/", h)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) triggered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func TestWebhook(t *testing.T) {
	body := `{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}`
	good := Sign([]byte("s3cret"), []byte(body))
	forged := Sign([]byte("guess"), []byte(body))
	tests := []struct {
		name      string
		method    string
		target    string
		signature string
		event     string
		body      string
		code      int
		message   string
		triggered bool
	}{
		{name: "signed push triggers", target: Path + "?source=apps/web", signature: good, event: "push", code: 202, message: "sync of apps/web triggered", triggered: true},
		{name: "path form", target: Path + "/apps/web", signature: good, code: 202, triggered: true},
		{name: "unsigned is refused", target: Path + "?source=apps/web", code: 401, message: "unsigned request"},
		{name: "forged signature is refused", target: Path + "?source=apps/web", signature: forged, code: 403, message: "bad signature"},
		{name: "signature of another body is refused", target: Path + "?source=apps/web", signature: good, body: body + " ", code: 403, message: "bad signature"},
		{name: "sha1 signature is refused", target: Path + "?source=apps/web", signature: "sha1=" + strings.TrimPrefix(good, "sha256="), code: 403},
		{name: "garbage signature is refused", target: Path + "?source=apps/web", signature: "sha256=zz", code: 403},
		{name: "source without secret is refused", target: Path + "?source=apps/nosecret", signature: Sign(nil, []byte(body)), code: 403, message: "webhooks are disabled"},
		{name: "unknown source", target: Path + "?source=apps/other", signature: good, code: 404},
		{name: "no source", target: Path, signature: good, code: 400, message: "which GitSource"},
		{name: "bad source", target: Path + "?source=Apps", signature: good, code: 400},
		{name: "GET is refused", method: http.MethodGet, target: Path + "?source=apps/web", signature: good, code: 405},
		{name: "ping answers without a sync", target: Path + "?source=apps/web", signature: good, event: "ping", code: 200, message: "pong"},
		{name: "other events are ignored", target: Path + "?source=apps/web", signature: good, event: "issues", code: 200, message: "ignored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 0)
			method, b := tt.method, tt.body
			if method == "" {
				method = http.MethodPost
			}
			if b == "" {
				b = body
			}
			req, err := http.NewRequest(method, f.srv.URL+tt.target, strings.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if tt.signature != "" {
				req.Header.Set(SignatureHeader, tt.signature)
			}
			if tt.event != "" {
				req.Header.Set("X-GitHub-Event", tt.event)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, msg, tt.code)
			}
			if !strings.Contains(string(msg), tt.message) {
				t.Errorf("body %q, want it to contain %q", msg, tt.message)
			}
			got := f.triggered()
			if tt.triggered && (len(got) != 1 || got[0] != "apps/web") {
				t.Errorf("triggered %v, want [apps/web]", got)
			}
			if !tt.triggered && len(got) != 0 {
				t.Errorf("triggered %v, want nothing", got)
			}
		})
	}
}

func TestWebhookBodyLimit(t *testing.T) {
	f := newFixture(t, 64)
	body := strings.Repeat("x", 65)
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+Path+"?source=apps/web", strings.NewReader(body))
	req.Header.Set(SignatureHeader, Sign([]byte("s3cret"), []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
	if got := f.triggered(); len(got) != 0 {
		t.Errorf("triggered %v, want nothing", got)
	}
}

func TestValid(t *testing.T) {
	// GitHub's documented example: secret "It's a Secret to Everybody",
	// payload "Hello, World!".
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := Sign([]byte("It's a Secret to Everybody"), []byte("Hello, World!")); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if !Valid([]byte("It's a Secret to Everybody"), []byte("Hello, World!"), want) {
		t.Error("GitHub's example signature is not valid")
	}
}

func TestLate(t *testing.T) {
	var l Late
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("before Set: %d", rec.Code)
	}
	l.Set(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	rec = httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("after Set: %d", rec.Code)
	}
}
