package policies

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Config configures a Store.
type Config struct {
	// Dirs are the policy directories (--policy-dir), read after the
	// bootstrap set, each recursively.
	Dirs []string
	// Metrics registers the Store's metrics; nil leaves them unregistered.
	Metrics prometheus.Registerer
	// Log receives load results and every problem; nil means slog.Default().
	Log *slog.Logger
	// Debounce is how long Run waits after a file event for further events
	// before reloading (editors write a file in several steps). Default
	// 100ms.
	Debounce time.Duration
	// Resync is how often Run rereads the files without an event: it
	// catches a policy directory created after the start and events the
	// kernel dropped. Unchanged files cost a read and a hash. Default 1m.
	Resync time.Duration
}

// Store is the file-backed RBAC authorizer: the bootstrap policy plus the
// policy directories, reloaded when their files change. Every load either
// succeeds whole and replaces the policy atomically, or fails and leaves
// the last good policy in force; a broken file never opens access and
// never drops the policy. Safe for concurrent use.
type Store struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	current atomic.Pointer[snapshot]
	kick    chan struct{} // the directories to watch changed

	mu         sync.Mutex // serializes loads; guards what follows
	dirs       []string
	files      map[string]map[string][]byte // SetSource's sources in force, by name
	sources    map[string]*SourceStatus
	watchDirs  []string
	digest     [sha256.Size]byte
	lastErr    error
	status     Status
	generation int64
}

// Status describes the policy in force and the latest load.
type Status struct {
	// Generation counts successful loads; it is the ResourceVersion of the
	// objects in force.
	Generation int64 `json:"generation"`
	// LoadedAt is when the policy in force was loaded.
	LoadedAt time.Time `json:"loadedAt"`
	// LastAttempt is when the files were last loaded, with or without
	// success.
	LastAttempt time.Time `json:"lastAttempt"`
	// Dirs are the policy directories read after the bootstrap set.
	Dirs []string `json:"dirs"`
	// Errors are the problems of the latest load; while there are any, the
	// policy of Generation stays in force.
	Errors []Problem `json:"errors"`
	// Warnings are the warnings of the latest load.
	Warnings []Problem `json:"warnings"`
	// Sources are the in-memory sources (SetSource), by name.
	Sources []SourceStatus `json:"sources,omitempty"`
}

// SourceStatus describes one in-memory source of policy files.
type SourceStatus struct {
	// Name is the source's name, such as "gitsource apps/web".
	Name string `json:"name"`
	// Files are the paths of its files in force.
	Files []string `json:"files"`
	// UpdatedAt is when they were set.
	UpdatedAt time.Time `json:"updatedAt"`
	// Errors are the problems of the latest update refused; while there are
	// any, the files of UpdatedAt stay in force.
	Errors []Problem `json:"errors,omitempty"`
	// RefusedAt is when that update was refused.
	RefusedAt time.Time `json:"refusedAt,omitzero"`
}

// Objects are the RBAC objects in force, for the API server to serve
// read-only. They are shared: callers must not modify them.
type Objects struct {
	// ResourceVersion is the Status.Generation they belong to, also the
	// resourceVersion of each object.
	ResourceVersion     string
	Roles               []*rbacv1.Role
	ClusterRoles        []*rbacv1.ClusterRole
	RoleBindings        []*rbacv1.RoleBinding
	ClusterRoleBindings []*rbacv1.ClusterRoleBinding
}

// snapshot is one immutable generation of the policy.
type snapshot struct {
	authz   *Authorizer
	objects Objects
}

// NewStore loads the bootstrap policy and cfg.Dirs. When the directories
// have errors, the Store starts with the bootstrap policy alone (which
// grants less than any valid policy containing it) and reports the errors
// in Status until they are fixed; it fails only if the bootstrap policy
// itself does not load.
func NewStore(cfg Config) (*Store, error) {
	if cfg.Debounce <= 0 {
		cfg.Debounce = 100 * time.Millisecond
	}
	if cfg.Resync <= 0 {
		cfg.Resync = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("policy metrics: %w", err)
	}
	s := &Store{cfg: cfg, log: cfg.Log, metrics: m, kick: make(chan struct{}, 1)}
	for _, d := range cfg.Dirs {
		s.dirs = appendDir(s.dirs, d)
	}
	if s.Reload() != nil {
		set, err := LoadSources(Bootstrap())
		if err != nil {
			return nil, fmt.Errorf("bootstrap policy: %w", err)
		}
		s.mu.Lock()
		s.install(set, time.Now())
		s.mu.Unlock()
		s.log.Warn("policy directories have errors; starting with the bootstrap policy alone", "dirs", s.dirs)
	}
	return s, nil
}

// Authorize decides a with the policy in force; see Authorizer.Authorize.
func (s *Store) Authorize(a Attributes) (allowed bool, reason string) {
	return s.current.Load().authz.Authorize(a)
}

// RulesFor lists the rules in force for a user; see Authorizer.RulesFor.
func (s *Store) RulesFor(user string, groups []string, namespace string) ([]authorizationv1.ResourceRule, []authorizationv1.NonResourceRule) {
	return s.current.Load().authz.RulesFor(user, groups, namespace)
}

// Objects returns the RBAC objects in force.
func (s *Store) Objects() Objects {
	return s.current.Load().objects
}

// Status reports the policy in force and the latest load.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Dirs = slices.Clone(s.dirs)
	st.Errors = slices.Clone(st.Errors)
	st.Warnings = slices.Clone(st.Warnings)
	st.Sources = nil
	for _, name := range slices.Sorted(maps.Keys(s.sources)) {
		src := *s.sources[name]
		src.Files, src.Errors = slices.Clone(src.Files), slices.Clone(src.Errors)
		st.Sources = append(st.Sources, src)
	}
	return st
}

// SetSource makes files (path → content; see Files) the policy source
// called name, replacing the files it had, and reloads. gitsync's
// published policies reach every API server this way.
//
// An update that brings errors (a broken file, a duplicate of another
// source's object) is refused: the source keeps the files it had,
// the policy in force does not change, and the problems are returned as a
// *LoadError and shown in Status.Sources until a later update succeeds.
// Errors elsewhere (a broken --policy-dir file) do not refuse the update;
// they are reported as for Reload, and the update takes effect with their
// fix.
func (s *Store) SetSource(name string, files map[string][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	candidate := maps.Clone(s.files)
	if candidate == nil {
		candidate = map[string]map[string][]byte{}
	}
	candidate[name] = files
	r := load(s.sourcesLocked(candidate))
	var own []Problem
	for p := range files {
		if !fs.ValidPath(p) || p == "." {
			own = append(own, Problem{File: p, Message: "not a valid relative slash-separated path"})
		}
	}
	if len(r.errors) > 0 {
		// The update's problems are those the policy without it does not
		// have (a duplicate may be reported on the other source's file).
		before := map[string]bool{}
		for _, p := range load(s.sourcesLocked(s.files)).errors {
			before[p.String()] = true
		}
		for _, p := range r.errors {
			if !before[p.String()] {
				own = append(own, p)
			}
		}
	}
	st := s.sources[name]
	if st == nil {
		st = &SourceStatus{Name: name}
		if s.sources == nil {
			s.sources = map[string]*SourceStatus{}
		}
	}
	if len(own) > 0 {
		st.Errors, st.RefusedAt = own, now
		s.sources[name] = st
		s.metrics.reloads.WithLabelValues("failure").Inc()
		for _, p := range own {
			s.log.Error("policy error", problemAttrs(p)...)
		}
		s.log.Error("policy update refused; the source keeps the files it had", "source", name, "errors", len(own), "generation", s.generation)
		return &LoadError{Problems: own}
	}
	s.files = candidate
	st.Files, st.UpdatedAt, st.Errors, st.RefusedAt = slices.Sorted(maps.Keys(files)), now, nil, time.Time{}
	s.sources[name] = st
	return s.reloadLocked()
}

// RemoveSource drops the policy source called name, if any, and reloads.
func (s *Store) RemoveSource(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sources, name)
	if _, ok := s.files[name]; !ok {
		return nil
	}
	delete(s.files, name)
	return s.reloadLocked()
}

// SourceNames lists the in-memory sources in force, sorted.
func (s *Store) SourceNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.files))
}

// AddDir adds a policy directory (gitsync adds the policies folder of the
// repository it syncs) and reloads. It returns the *LoadError of that load,
// if any; the directory stays configured either way, and Run watches it.
func (s *Store) AddDir(dir string) error {
	s.mu.Lock()
	s.dirs = appendDir(s.dirs, dir)
	err := s.reloadLocked()
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return err
}

// Reload rereads the policy files now. Files unchanged since the latest
// load are not loaded again. On error, a *LoadError, the policy in force
// does not change.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked()
}

// Run watches the policy directories, and every directory below them, and
// reloads after changes (debounced) and every Resync, until ctx is done.
func (s *Store) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching policy directories: %w", err)
	}
	defer w.Close()
	watched := map[string]bool{}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	resync := time.NewTicker(s.cfg.Resync)
	defer resync.Stop()
	// Files written between the load and a new watch were missed: reread
	// once the watch is in place.
	if s.syncWatches(w, watched) {
		debounce.Reset(s.cfg.Debounce)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op != fsnotify.Chmod {
				debounce.Reset(s.cfg.Debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			s.log.Warn("watching policy directories", "error", err)
			debounce.Reset(s.cfg.Debounce)
		case <-s.kick:
			if s.syncWatches(w, watched) {
				debounce.Reset(s.cfg.Debounce)
			}
		case <-debounce.C:
			_ = s.Reload() // logged
			if s.syncWatches(w, watched) {
				debounce.Reset(s.cfg.Debounce)
			}
		case <-resync.C:
			_ = s.Reload()
			if s.syncWatches(w, watched) {
				debounce.Reset(s.cfg.Debounce)
			}
		}
	}
}

// syncWatches makes w watch exactly the directories the latest load read,
// and reports whether it added any.
func (s *Store) syncWatches(w *fsnotify.Watcher, watched map[string]bool) bool {
	s.mu.Lock()
	want := slices.Clone(s.watchDirs)
	s.mu.Unlock()
	added := false
	for _, d := range want {
		if watched[d] {
			continue
		}
		if err := w.Add(d); err != nil {
			s.log.Warn("watching policy directory", "dir", d, "error", err)
			continue
		}
		watched[d], added = true, true
	}
	for d := range watched {
		if !slices.Contains(want, d) {
			_ = w.Remove(d) // fails when d is gone, which removed the watch already
			delete(watched, d)
		}
	}
	return added
}

// reloadLocked loads the files and installs them when they are valid and
// have changed. s.mu must be held.
func (s *Store) reloadLocked() error {
	r := load(s.sourcesLocked(s.files))
	s.watchDirs = r.dirs
	if s.current.Load() != nil && r.digest == s.digest {
		return s.lastErr
	}
	now := time.Now()
	s.digest = r.digest
	s.status.LastAttempt, s.status.Errors, s.status.Warnings = now, r.errors, r.warnings
	s.metrics.loadErrors.Set(float64(len(r.errors)))
	for _, p := range r.warnings {
		s.log.Warn("policy warning", problemAttrs(p)...)
	}
	if len(r.errors) > 0 {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		for _, p := range r.errors {
			s.log.Error("policy error", problemAttrs(p)...)
		}
		s.log.Error("policy load failed; the last good policy stays in force", "errors", len(r.errors), "generation", s.generation)
		s.lastErr = &LoadError{Problems: r.errors}
		return s.lastErr
	}
	s.metrics.reloads.WithLabelValues("success").Inc()
	s.metrics.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	s.lastErr = nil
	s.install(r.set, now)
	s.log.Info("policy loaded", "generation", s.generation, "roles", len(r.set.Roles), "clusterRoles", len(r.set.ClusterRoles),
		"roleBindings", len(r.set.RoleBindings), "clusterRoleBindings", len(r.set.ClusterRoleBindings), "warnings", len(r.warnings))
	return nil
}

// sourcesLocked lists the sources to load: the bootstrap set, the
// directories, then files by name. s.mu must be held.
func (s *Store) sourcesLocked(files map[string]map[string][]byte) []Source {
	sources := []Source{Bootstrap()}
	for _, d := range s.dirs {
		sources = append(sources, Dir(d))
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		src := Files(files[name])
		src.Name = name
		sources = append(sources, src)
	}
	return sources
}

// install makes set the policy in force, as the next generation. s.mu
// must be held.
func (s *Store) install(set *Set, now time.Time) {
	s.generation++
	s.status.Generation, s.status.LoadedAt = s.generation, now
	rv := strconv.FormatInt(s.generation, 10)
	created := metav1.NewTime(now)
	stamp := func(kind string, m *metav1.ObjectMeta) {
		m.ResourceVersion, m.CreationTimestamp = rv, created
		m.UID = stableUID(kind, m.Namespace, m.Name)
	}
	objs := Objects{ResourceVersion: rv}
	for _, o := range set.Roles {
		c := o.DeepCopy()
		stamp("Role", &c.ObjectMeta)
		objs.Roles = append(objs.Roles, c)
	}
	for _, o := range set.ClusterRoles {
		c := o.DeepCopy()
		stamp("ClusterRole", &c.ObjectMeta)
		objs.ClusterRoles = append(objs.ClusterRoles, c)
	}
	for _, o := range set.RoleBindings {
		c := o.DeepCopy()
		stamp("RoleBinding", &c.ObjectMeta)
		objs.RoleBindings = append(objs.RoleBindings, c)
	}
	for _, o := range set.ClusterRoleBindings {
		c := o.DeepCopy()
		stamp("ClusterRoleBinding", &c.ObjectMeta)
		objs.ClusterRoleBindings = append(objs.ClusterRoleBindings, c)
	}
	s.current.Store(&snapshot{authz: NewAuthorizer(set), objects: objs})
}

// stableUID derives an object's UID from its identity, so that it stays
// the same across reloads and restarts.
func stableUID(kind, namespace, name string) types.UID {
	h := sha256.Sum256([]byte(kind + "/" + namespace + "/" + name))
	h[6] = h[6]&0x0f | 0x50 // a name-based UUID
	h[8] = h[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]))
}

func problemAttrs(p Problem) []any {
	return []any{"file", p.File, "line", p.Line, "object", p.Object, "field", p.Field, "message", p.Message}
}

// appendDir adds dir to dirs unless it is empty or already there.
func appendDir(dirs []string, dir string) []string {
	if dir == "" {
		return dirs
	}
	dir = filepath.Clean(dir)
	if slices.Contains(dirs, dir) {
		return dirs
	}
	return append(dirs, dir)
}
