// Package webhook receives a git host's push notifications for GitSources
// and triggers their sync.
//
// The API server serves it without credentials (it is public, mounted in
// apiserver.Config.PublicPaths), so every request must be signed the way
// GitHub signs webhooks: the header
//
//	X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
//
// keyed with the source's webhook secret (the key "webhookSecret" of the
// Secret that the GitSource's secretRef names). Unsigned and badly signed
// requests are refused (401 and 403) and never trigger anything.
//
// One path serves every source, because the API server's public paths
// match exactly:
//
//	POST /hooks/git?source=<namespace>/<name>
//
// (the form /hooks/git/<namespace>/<name> is accepted too, for a mux that
// routes by prefix). Point the repository's webhook at
// https://<server>/hooks/git?source=<namespace>/<name>, content type
// application/json, with the same secret.
//
// How it is wired: gitsync.Controller.Webhook() builds it with the
// source's Secret and Controller.Trigger. As the API server's public paths
// are fixed when it starts, before gitsync's controller exists, mount a
// Late and Set it later:
//
//	var hook webhook.Late
//	apiCfg.PublicPaths[webhook.Path] = &hook
//	... ctl, _ := gitsync.New(cfg, opts); hook.Set(ctl.Webhook())
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Path is where the handler is mounted on the API server.
const Path = "/hooks/git"

// SecretKey is the key of the GitSource's Secret that holds the webhook
// secret.
const SecretKey = "webhookSecret"

// SignatureHeader is the header GitHub (and Gitea, Forgejo) put the body's
// HMAC-SHA256 in.
const SignatureHeader = "X-Hub-Signature-256"

// DefaultMaxBody is the largest body read: GitHub caps payloads at 25 MB;
// push payloads are far smaller.
const DefaultMaxBody = 25 << 20

// ErrNotFound is returned by a SecretFunc when the GitSource does not
// exist; the handler answers 404.
var ErrNotFound = errors.New("no such GitSource")

// ErrNoSecret is returned by a SecretFunc when the GitSource has no
// webhook secret; the handler answers 403, as webhooks are then disabled.
var ErrNoSecret = errors.New("the GitSource has no webhook secret (key " + SecretKey + " of its secretRef): webhooks are disabled for it")

// SecretFunc returns the webhook secret of the GitSource namespace/name.
type SecretFunc func(ctx context.Context, namespace, name string) ([]byte, error)

// TriggerFunc asks for a sync of the GitSource namespace/name now. It must
// not block.
type TriggerFunc func(namespace, name string)

// Config configures the handler.
type Config struct {
	// Secret looks up a source's webhook secret. Required.
	Secret SecretFunc
	// Trigger starts a sync. Required.
	Trigger TriggerFunc
	// MaxBody caps the request body; default DefaultMaxBody.
	MaxBody int64
	// Log receives accepted and refused deliveries; nil means slog.Default().
	Log *slog.Logger
}

// New returns the webhook handler.
func New(cfg Config) http.Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &handler{cfg: cfg}
}

// Sign returns the X-Hub-Signature-256 value for body under secret, as a
// git host computes it (for tests and for clients).
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

type handler struct{ cfg Config }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "webhooks are POST requests", http.StatusMethodNotAllowed)
		return
	}
	namespace, name, err := sourceOf(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	log := h.cfg.Log.With("gitsource", namespace+"/"+name, "delivery", r.Header.Get("X-GitHub-Delivery"), "remote", r.RemoteAddr)
	signature := r.Header.Get(SignatureHeader)
	if signature == "" {
		log.Warn("webhook refused: unsigned")
		http.Error(w, "unsigned request: the "+SignatureHeader+" header is required (set a secret on the webhook)", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", h.cfg.MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	secret, err := h.cfg.Secret(r.Context(), namespace, name)
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, fmt.Sprintf("GitSource %s/%s not found", namespace, name), http.StatusNotFound)
		return
	case errors.Is(err, ErrNoSecret) || (err == nil && len(secret) == 0):
		log.Warn("webhook refused: the source has no webhook secret")
		http.Error(w, ErrNoSecret.Error(), http.StatusForbidden)
		return
	case err != nil:
		log.Error("webhook: looking up the secret", "err", err)
		http.Error(w, "looking up the webhook secret failed", http.StatusInternalServerError)
		return
	}
	if !Valid(secret, body, signature) {
		log.Warn("webhook refused: bad signature")
		http.Error(w, "bad signature: "+SignatureHeader+" does not match the body under this source's webhook secret", http.StatusForbidden)
		return
	}
	switch event := r.Header.Get("X-GitHub-Event"); event {
	case "ping":
		log.Info("webhook ping")
		_, _ = io.WriteString(w, "pong\n")
		return
	case "", "push":
	default:
		log.Debug("webhook event ignored", "event", event)
		_, _ = io.WriteString(w, "event "+event+" ignored: only push triggers a sync\n")
		return
	}
	log.Info("webhook: sync triggered")
	h.cfg.Trigger(namespace, name)
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "sync of "+namespace+"/"+name+" triggered\n")
}

// Valid reports whether signature ("sha256=<hex>") is body's HMAC-SHA256
// under secret, comparing in constant time.
func Valid(secret, body []byte, signature string) bool {
	hexSum, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// sourceOf reads the GitSource a request is for, from ?source=ns/name or
// from the path /hooks/git/ns/name.
func sourceOf(r *http.Request) (namespace, name string, err error) {
	src := r.URL.Query().Get("source")
	if rest, ok := strings.CutPrefix(r.URL.Path, Path+"/"); ok && rest != "" {
		src = rest
	}
	if src == "" {
		return "", "", errors.New("which GitSource? use " + Path + "?source=<namespace>/<name>")
	}
	namespace, name, ok := strings.Cut(src, "/")
	if !ok || len(validation.IsDNS1123Label(namespace)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return "", "", fmt.Errorf("source %q: want <namespace>/<name> of a GitSource", src)
	}
	return namespace, name, nil
}

// Late is a handler to mount before the one it serves exists: the API
// server's public paths are fixed when it starts, gitsync's controller is
// built after. Until Set, it answers 503.
type Late struct{ h atomic.Pointer[http.Handler] }

// Set makes l serve h.
func (l *Late) Set(h http.Handler) { l.h.Store(&h) }

// ServeHTTP serves with the handler Set, or answers 503.
func (l *Late) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := l.h.Load()
	if h == nil {
		http.Error(w, "gitsync is not running yet: try again shortly", http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}
