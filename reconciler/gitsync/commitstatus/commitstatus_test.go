package commitstatus

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

type received struct {
	method, path, auth string
	body               map[string]string
}

func server(t *testing.T, code int) (*httptest.Server, chan received) {
	ch := make(chan received, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("body: %v", err)
		}
		ch <- received{r.Method, r.URL.Path, r.Header.Get("Authorization"), body}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"message":"Bad credentials"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func TestReport(t *testing.T) {
	srv, ch := server(t, http.StatusCreated)
	r, err := New(Config{API: srv.URL + "/api/v3/", Token: "tok", Repo: "https://github.com/acme/apps.git"})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 200)
	for _, st := range []Status{
		{State: Pending, Context: Context("apps", "web"), Description: "applying"},
		{State: Failure, Context: Context("apps", "web"), Description: long, TargetURL: "https://berth.example/gitsources/apps/web"},
	} {
		if err := r.Report(context.Background(), sha, st); err != nil {
			t.Fatal(err)
		}
		got := <-ch
		if got.method != "POST" || got.path != "/api/v3/repos/acme/apps/statuses/"+sha || got.auth != "Bearer tok" {
			t.Errorf("request %s %s auth %q", got.method, got.path, got.auth)
		}
		if got.body["state"] != string(st.State) || got.body["context"] != "berth/apps/web" || got.body["target_url"] != st.TargetURL {
			t.Errorf("body %v, want state %s context berth/apps/web", got.body, st.State)
		}
		if n := len([]rune(got.body["description"])); n > maxDescription {
			t.Errorf("description of %d characters, GitHub takes %d", n, maxDescription)
		}
	}
}

func TestReportErrors(t *testing.T) {
	srv, _ := server(t, http.StatusUnauthorized)
	r, err := New(Config{API: srv.URL, Token: "bad", Owner: "acme", Name: "apps"})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Report(context.Background(), sha, Status{State: Success})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Bad credentials") {
		t.Errorf("error %v, want the 401 and the host's message", err)
	}
	if strings.Contains(err.Error(), "bad") && strings.Contains(err.Error(), "Bearer") {
		t.Errorf("error %v shows the token", err)
	}
	if err := r.Report(context.Background(), sha, Status{State: "done"}); err == nil {
		t.Error("state done accepted")
	}
	if err := r.Report(context.Background(), "main", Status{State: Success}); err == nil {
		t.Error("commit main accepted")
	}
	if _, err := New(Config{API: srv.URL, Repo: "https://github.com/acme/apps"}); err == nil {
		t.Error("no token accepted")
	}
	if _, err := New(Config{API: srv.URL, Token: "t", Repo: "/apps"}); err == nil {
		t.Error("a repository without an owner accepted")
	}
}

func TestOwnerRepo(t *testing.T) {
	for _, tt := range []struct{ url, owner, repo string }{
		{"https://github.com/acme/apps", "acme", "apps"},
		{"https://github.com/acme/apps.git", "acme", "apps"},
		{"https://x-access-token@github.com/acme/apps.git/", "acme", "apps"},
		{"ssh://git@github.com/acme/apps.git", "acme", "apps"},
		{"git@github.com:acme/apps.git", "acme", "apps"},
		{"https://gitea.example/org/sub/apps", "sub", "apps"},
		{"/srv/mirrors/acme/apps.git", "acme", "apps"},
		{"file:///srv/mirrors/acme/apps", "acme", "apps"},
	} {
		owner, repo, err := OwnerRepo(tt.url)
		if err != nil || owner != tt.owner || repo != tt.repo {
			t.Errorf("OwnerRepo(%q) = %q, %q, %v; want %q, %q", tt.url, owner, repo, err, tt.owner, tt.repo)
		}
	}
	for _, bad := range []string{"/apps", "https://github.com/apps", "file:///apps", "git@github.com:apps"} {
		if _, _, err := OwnerRepo(bad); err == nil {
			t.Errorf("OwnerRepo(%q) succeeded", bad)
		}
	}
}
