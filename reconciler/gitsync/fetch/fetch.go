// Package fetch gets a GitSource's commit with go-git: it resolves a
// branch, tag or commit of a repository to a commit whose tree gitsync
// renders.
//
// A local repository (an absolute path) is read in place, read-only: its
// object store and refs are used directly, its work tree and checked-out
// branch are never touched, and nothing is copied, so a commit there is
// visible at once. Remote repositories (file://, http(s)://, ssh:// and
// user@host:path) are fetched into a bare cache repository under the
// Fetcher's directory, one per URL, and fetched incrementally.
//
// Credentials come from the source's Secret (Credentials) and only ever
// travel in go-git's auth methods: they are never part of a URL, an error
// or a log line.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Credentials authenticate to a remote. The keys of a GitSource's Secret
// map to them: "token", "username", "password", "identity", "known_hosts".
type Credentials struct {
	// Token is an https access token (sent as the basic-auth password).
	Token string
	// Username and Password are https basic auth; Username also names the
	// ssh user when the URL has none.
	Username, Password string
	// Identity is an ssh private key (PEM); KnownHosts the host keys it
	// accepts, in known_hosts format (required with Identity).
	Identity, KnownHosts []byte
}

// CredentialsFromSecret reads Credentials from a Secret's data.
func CredentialsFromSecret(data map[string][]byte) *Credentials {
	return &Credentials{
		Token: string(data["token"]), Username: string(data["username"]), Password: string(data["password"]),
		Identity: data["identity"], KnownHosts: data["known_hosts"],
	}
}

// Request says what to fetch.
type Request struct {
	// URL is the repository (see the package documentation).
	URL string
	// Ref is a branch, tag, full ref name or full commit hash; empty is
	// the repository's HEAD.
	Ref string
	// Credentials for a remote; nil for none.
	Credentials *Credentials
}

// Result is a fetched commit.
type Result struct {
	// Repo holds the commit's objects.
	Repo *git.Repository
	// Commit is the commit Ref points at.
	Commit *object.Commit
	// RefName is the ref it was resolved through ("refs/heads/main"), or
	// empty for a commit hash.
	RefName plumbing.ReferenceName
}

// ErrRefNotFound: the repository has no branch, tag or commit Ref.
var ErrRefNotFound = errors.New("ref not found")

// Fetcher fetches repositories, caching remote ones in Dir.
type Fetcher struct {
	dir string

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns a Fetcher that keeps its bare caches of remote repositories
// in dir (created when needed).
func New(dir string) *Fetcher {
	return &Fetcher{dir: dir, locks: map[string]*sync.Mutex{}}
}

// LocalPath returns the directory of a repository URL that is on this
// machine (an absolute path or file://), and whether it is one.
func LocalPath(repoURL string) (string, bool) {
	if strings.HasPrefix(repoURL, "/") {
		return filepath.Clean(repoURL), true
	}
	if u, err := url.Parse(repoURL); err == nil && u.Scheme == "file" && u.Path != "" {
		return filepath.Clean(u.Path), true
	}
	return "", false
}

// Fetch brings the repository up to date and resolves req.Ref.
func (f *Fetcher) Fetch(ctx context.Context, req Request) (*Result, error) {
	if strings.HasPrefix(req.URL, "/") {
		repo, err := git.PlainOpenWithOptions(req.URL, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
		if err != nil {
			return nil, fmt.Errorf("opening the repository %s: %w", req.URL, err)
		}
		return resolve(repo, req, "refs/heads/")
	}
	lock := f.lockFor(req.URL)
	lock.Lock()
	defer lock.Unlock()
	repo, err := f.cache(req.URL)
	if err != nil {
		return nil, err
	}
	auth, err := f.auth(req)
	if err != nil {
		return nil, err
	}
	err = repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"},
		Auth:       auth,
		Tags:       git.NoTags,
		Force:      true,
		Prune:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetching %s: %w", Redact(req.URL), err)
	}
	if req.Ref == "" {
		head, err := remoteHead(ctx, repo, auth)
		if err != nil {
			return nil, fmt.Errorf("finding the default branch of %s: %w", Redact(req.URL), err)
		}
		req.Ref = head
	}
	return resolve(repo, req, "refs/remotes/origin/")
}

// IsAncestor reports whether old is in the history of commit.
func IsAncestor(repo *git.Repository, old plumbing.Hash, commit *object.Commit) (bool, error) {
	if old == commit.Hash {
		return true, nil
	}
	prev, err := repo.CommitObject(old)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return prev.IsAncestor(commit)
}

// Redact drops any user information from a URL, for messages.
func Redact(repoURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil || u.User == nil {
		return repoURL
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

func (f *Fetcher) lockFor(key string) *sync.Mutex {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.locks[key]
	if !ok {
		l = &sync.Mutex{}
		f.locks[key] = l
	}
	return l
}

// cache opens (creating it the first time) the bare cache of repoURL.
func (f *Fetcher) cache(repoURL string) (*git.Repository, error) {
	sum := sha256.Sum256([]byte(repoURL))
	dir := filepath.Join(f.dir, hex.EncodeToString(sum[:12])+".git")
	repo, err := git.PlainOpen(dir)
	if err == nil {
		return repo, nil
	}
	if !errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("opening the cache %s of %s: %w (delete the directory to start over)", dir, Redact(repoURL), err)
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the git cache directory: %w", err)
	}
	repo, err = git.PlainInit(dir, true)
	if err != nil {
		return nil, fmt.Errorf("creating the cache %s: %w", dir, err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{repoURL}}); err != nil {
		return nil, fmt.Errorf("configuring the cache %s: %w", dir, err)
	}
	return repo, nil
}

// Auth is the go-git auth method of req's credentials for its URL: what a
// push to the same remote (the live branch) authenticates with.
func (f *Fetcher) Auth(req Request) (transport.AuthMethod, error) { return f.auth(req) }

// auth turns the request's credentials into a go-git auth method for its
// URL's transport.
func (f *Fetcher) auth(req Request) (transport.AuthMethod, error) {
	c := req.Credentials
	if c == nil {
		return nil, nil
	}
	ep, err := transport.NewEndpoint(req.URL)
	if err != nil {
		return nil, fmt.Errorf("reading the URL %s: %w", Redact(req.URL), err)
	}
	switch ep.Protocol {
	case "http", "https":
		switch {
		case c.Token != "":
			user := c.Username
			if user == "" {
				user = "git"
			}
			return &githttp.BasicAuth{Username: user, Password: c.Token}, nil
		case c.Username != "" || c.Password != "":
			return &githttp.BasicAuth{Username: c.Username, Password: c.Password}, nil
		}
	case "ssh":
		if len(c.Identity) == 0 {
			return nil, nil
		}
		user := ep.User
		if user == "" {
			user = c.Username
		}
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, c.Identity, "")
		if err != nil {
			return nil, fmt.Errorf("reading the ssh key (identity) of the source's Secret: %w", err)
		}
		if len(c.KnownHosts) == 0 {
			return nil, errors.New("the source's Secret has an ssh identity but no known_hosts: add the server's host key so it can be verified")
		}
		path, err := f.knownHostsFile(c.KnownHosts)
		if err != nil {
			return nil, err
		}
		cb, err := gitssh.NewKnownHostsCallback(path)
		if err != nil {
			return nil, fmt.Errorf("reading known_hosts of the source's Secret: %w", err)
		}
		keys.HostKeyCallback = cb
		return keys, nil
	}
	return nil, nil
}

// knownHostsFile writes known_hosts content to a file (the callback reads
// files), named by its hash so sources share identical ones.
func (f *Fetcher) knownHostsFile(content []byte) (string, error) {
	sum := sha256.Sum256(content)
	path := filepath.Join(f.dir, "known_hosts-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, content, 0o600); err != nil {
		return "", fmt.Errorf("writing known_hosts: %w", err)
	}
	return path, nil
}

// remoteHead finds the branch the remote's HEAD points at.
func remoteHead(ctx context.Context, repo *git.Repository, auth transport.AuthMethod) (string, error) {
	remote, err := repo.Remote("origin")
	if err != nil {
		return "", err
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return "", err
	}
	for _, r := range refs {
		if r.Name() == plumbing.HEAD && r.Type() == plumbing.SymbolicReference {
			return r.Target().String(), nil
		}
	}
	return "", errors.New("the remote has no HEAD: set spec.ref to a branch")
}

// resolve finds req.Ref in repo: a full commit hash, a full ref name, a
// branch (under branchPrefix, where the repository keeps them) or a tag.
func resolve(repo *git.Repository, req Request, branchPrefix string) (*Result, error) {
	ref := req.Ref
	if ref == "" {
		ref = "HEAD"
	}
	if plumbing.IsHash(ref) {
		c, err := repo.CommitObject(plumbing.NewHash(ref))
		if err != nil {
			return nil, fmt.Errorf("%w: commit %s is not in %s", ErrRefNotFound, ref, Redact(req.URL))
		}
		return &Result{Repo: repo, Commit: c}, nil
	}
	var candidates []plumbing.ReferenceName
	switch {
	case ref == "HEAD":
		candidates = []plumbing.ReferenceName{plumbing.HEAD}
	case strings.HasPrefix(ref, "refs/heads/"):
		candidates = []plumbing.ReferenceName{plumbing.ReferenceName(branchPrefix + strings.TrimPrefix(ref, "refs/heads/"))}
	case strings.HasPrefix(ref, "refs/"):
		candidates = []plumbing.ReferenceName{plumbing.ReferenceName(ref)}
	default:
		candidates = []plumbing.ReferenceName{plumbing.ReferenceName(branchPrefix + ref), plumbing.NewTagReferenceName(ref)}
	}
	for _, name := range candidates {
		r, err := repo.Reference(name, true)
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s in %s: %w", name, Redact(req.URL), err)
		}
		c, err := peel(repo, r.Hash())
		if err != nil {
			return nil, fmt.Errorf("%s in %s: %w", name, Redact(req.URL), err)
		}
		return &Result{Repo: repo, Commit: c, RefName: name}, nil
	}
	return nil, fmt.Errorf("%w: %s has no branch or tag %q", ErrRefNotFound, Redact(req.URL), ref)
}

// peel follows annotated tags to the commit.
func peel(repo *git.Repository, h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		tag, err := repo.TagObject(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		h = tag.Target
	}
	return repo.CommitObject(h)
}
