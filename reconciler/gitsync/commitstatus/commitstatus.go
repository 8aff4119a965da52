// Package commitstatus reports a GitSource's sync result for each commit
// to the git host's commit-status API, in GitHub's format (Gitea and
// Forgejo serve the same API under /api/v1):
//
//	POST {api}/repos/{owner}/{repo}/statuses/{sha}
//	{"state": "success", "context": "berth/<namespace>/<name>", "description": "...", "target_url": "..."}
//
// so that a pull request or a commit page shows whether berth applied the
// commit and whether it became healthy.
//
// How the engine uses it, when the source is configured for it (an API
// base URL and a token from its secretRef):
//
//	r, err := commitstatus.New(commitstatus.Config{API: api, Token: token, Repo: spec.URL})
//	...
//	_ = r.Report(ctx, sha, commitstatus.Status{State: commitstatus.Pending, Context: commitstatus.Context(ns, name), Description: "applying"})
//	... after the sync:
//	_ = r.Report(ctx, sha, commitstatus.Status{State: commitstatus.Success, Context: ..., Description: "applied 12 objects, healthy"})
//
// A failed report is the caller's to log; it must never fail the sync.
package commitstatus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// State is a commit status state.
type State string

// The states GitHub accepts.
const (
	// Pending: berth fetched the commit and is applying it or waiting for
	// it to become healthy.
	Pending State = "pending"
	// Success: applied and healthy.
	Success State = "success"
	// Failure: the commit is invalid (nothing applied) or its objects
	// degraded.
	Failure State = "failure"
	// Error: berth could not apply it (API errors, permissions).
	Error State = "error"
)

// DefaultAPI is GitHub's API.
const DefaultAPI = "https://api.github.com"

// maxDescription is GitHub's limit on a description's length.
const maxDescription = 140

// Status is one report on a commit.
type Status struct {
	State State
	// Context tells berth's statuses apart from CI's; see Context.
	Context string
	// Description is one line; longer ones are cut to 140 characters.
	Description string
	// TargetURL is a link for details; optional.
	TargetURL string
}

// Context is the status context of GitSource namespace/name:
// "berth/<namespace>/<name>".
func Context(namespace, name string) string {
	return "berth/" + namespace + "/" + name
}

// Config configures a Reporter.
type Config struct {
	// API is the base URL of the host's API; default DefaultAPI. For
	// GitHub Enterprise "https://HOST/api/v3", for Gitea
	// "https://HOST/api/v1".
	API string
	// Token authenticates ("Authorization: Bearer <token>"); it needs the
	// statuses write permission. Never logged.
	Token string
	// Repo is the repository's clone URL (https, ssh or scp-like), from
	// which the owner and name are taken; or Owner and Name directly.
	Repo        string
	Owner, Name string
	// HTTP is the client; default one with a 10 s timeout.
	HTTP *http.Client
}

// Reporter posts commit statuses for one repository.
type Reporter struct {
	endpoint string // {api}/repos/{owner}/{repo}/statuses/
	token    string
	http     *http.Client
}

// New returns a Reporter for cfg's repository.
func New(cfg Config) (*Reporter, error) {
	if cfg.API == "" {
		cfg.API = DefaultAPI
	}
	api, err := url.Parse(cfg.API)
	if err != nil || (api.Scheme != "https" && api.Scheme != "http") || api.Host == "" {
		return nil, fmt.Errorf("commit status API %q: want an http(s) URL such as %s", cfg.API, DefaultAPI)
	}
	if cfg.Owner == "" || cfg.Name == "" {
		if cfg.Owner, cfg.Name, err = OwnerRepo(cfg.Repo); err != nil {
			return nil, err
		}
	}
	if cfg.Token == "" {
		return nil, errors.New("commit statuses need a token with the statuses write permission")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	return &Reporter{
		endpoint: strings.TrimSuffix(cfg.API, "/") + "/repos/" + url.PathEscape(cfg.Owner) + "/" + url.PathEscape(cfg.Name) + "/statuses/",
		token:    cfg.Token,
		http:     cfg.HTTP,
	}, nil
}

// Report posts st on commit sha.
func (r *Reporter) Report(ctx context.Context, sha string, st Status) error {
	switch st.State {
	case Pending, Success, Failure, Error:
	default:
		return fmt.Errorf("commit status state %q: want pending, success, failure or error", st.State)
	}
	if len(sha) < 7 || strings.Trim(sha, "0123456789abcdef") != "" {
		return fmt.Errorf("commit %q: want a hex commit id", sha)
	}
	desc := st.Description
	if r := []rune(desc); len(r) > maxDescription {
		desc = string(r[:maxDescription-1]) + "…"
	}
	body, err := json.Marshal(struct {
		State       State  `json:"state"`
		TargetURL   string `json:"target_url,omitempty"`
		Description string `json:"description,omitempty"`
		Context     string `json:"context,omitempty"`
	}{st.State, st.TargetURL, desc, st.Context})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint+sha, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("reporting %s on commit %s: %w", st.State, sha, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("reporting %s on commit %s: %s answered %s: %s", st.State, sha, r.endpoint+sha, resp.Status, bytes.TrimSpace(msg))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return nil
}

// OwnerRepo takes the owner and repository name from a clone URL:
// https://github.com/OWNER/REPO(.git), ssh://git@host/OWNER/REPO.git or
// git@host:OWNER/REPO.git. For a local path or file:// URL (a mirror) the
// last two directories are taken.
func OwnerRepo(repoURL string) (owner, repo string, err error) {
	p := repoURL
	if u, perr := url.Parse(repoURL); perr == nil && u.Scheme != "" && (u.Host != "" || u.Scheme == "file") {
		p = u.Path
	} else if _, after, ok := strings.Cut(repoURL, ":"); ok && !strings.Contains(repoURL, "://") && !strings.HasPrefix(repoURL, "/") {
		p = after // scp-like git@host:owner/repo.git
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(strings.Trim(p, "/"), ".git"), "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] == "" || parts[len(parts)-1] == "" {
		return "", "", fmt.Errorf("repository %q: no OWNER/REPO in its path (https://host/OWNER/REPO or git@host:OWNER/REPO)", repoURL)
	}
	return parts[len(parts)-2], parts[len(parts)-1], nil
}
