package manifest

import (
	"errors"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreFile is the name of the files, in gitignore syntax, that leave
// paths out of rendering. Patterns apply below the directory holding the
// file.
const IgnoreFile = ".berthignore"

// KustomizationFiles are the file names that make a directory a
// kustomization, in the order kustomize looks for them.
var KustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Options tunes Render. The zero value renders everything below root.
type Options struct {
	// Skip lists directories, slash-separated and relative to root, that
	// are left out (such as "policies", whose RBAC files are read by the
	// policies package).
	Skip []string
	// Workers is how many files are parsed at once; 0 means GOMAXPROCS.
	Workers int
}

// Render reads every manifest below root in fsys (see the package
// documentation for what is read). root may also name a single file. Paths
// in positions are fsys paths ("apps/hello/deployment.yaml" for root
// "apps" of a checkout). Render keeps going after an error: the Set holds
// every object that could be read and the Errors say what could not, in
// file order.
func Render(fsys fs.FS, root string, opts Options) (*Set, []Error) {
	root = path.Clean(root)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Files are parsed while the walk goes on.
	next := make(chan *job, 64)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				j.result = readFile(fsys, j.path)
			}
		}()
	}
	var jobs []*job
	errs := plan(fsys, root, opts, func(j *job) {
		jobs = append(jobs, j)
		if !j.kustomize {
			next <- j
		}
	})
	close(next)
	wg.Wait()
	// Kustomizations run one at a time: kustomize's loaders are not known
	// to be safe for concurrent use.
	var kust *kustomizer
	for _, j := range jobs {
		if j.kustomize {
			if kust == nil {
				kust = newKustomizer(fsys)
			}
			j.result = kust.build(j.path)
		}
	}

	set := &Set{}
	for _, j := range jobs {
		set.Files = append(set.Files, j.file())
		set.Objects = append(set.Objects, j.result.objects...)
		errs = append(errs, j.result.errs...)
	}
	return set, errs
}

// job is a file to decode or a directory to build with kustomize.
type job struct {
	path      string
	kustomize bool
	kfile     string // the kustomization file, for kustomize
	result    result
}

// file is the manifest file the job reads.
func (j job) file() string {
	if j.kustomize {
		return j.kfile
	}
	return j.path
}

// result is what a job found.
type result struct {
	objects []*Object
	errs    []Error
}

// plan walks root in lexical order and gives each job to emit as it finds
// it.
func plan(fsys fs.FS, root string, opts Options, emit func(*job)) []Error {
	info, err := fs.Stat(fsys, root)
	if err != nil {
		return []Error{{Pos: Position{File: root}, Message: "cannot read: " + unwrapPathError(err)}}
	}
	if !info.IsDir() {
		if slices.Contains(KustomizationFiles, path.Base(root)) {
			emit(&job{path: path.Dir(root), kustomize: true, kfile: root})
		} else {
			emit(&job{path: root})
		}
		return nil
	}
	w := walker{fsys: fsys, root: root, skip: map[string]bool{}, emit: emit}
	for _, s := range opts.Skip {
		w.skip[path.Join(root, s)] = true
	}
	w.dir(root, nil)
	return w.errs
}

// walker lists the jobs below a root. It reads each directory once: the
// listing says whether it holds a kustomization or a .berthignore file.
type walker struct {
	fsys     fs.FS
	root     string
	skip     map[string]bool
	patterns []gitignore.Pattern
	emit     func(*job)
	errs     []Error
}

// dir visits directory p, whose path below the root is rel.
func (w *walker) dir(p string, rel []string) {
	entries, err := fs.ReadDir(w.fsys, p)
	if err != nil {
		w.errs = append(w.errs, Error{Pos: Position{File: p}, Message: "cannot read: " + unwrapPathError(err)})
		return
	}
	for _, k := range KustomizationFiles {
		if hasEntry(entries, k) {
			kfile := path.Join(p, k)
			w.emit(&job{path: p, kustomize: true, kfile: kfile})
			return
		}
	}
	saved := len(w.patterns)
	if hasEntry(entries, IgnoreFile) {
		ps, err := readIgnoreFile(w.fsys, p, rel)
		if err != nil {
			w.errs = append(w.errs, *err)
		}
		w.patterns = append(w.patterns, ps...)
	}
	var matcher gitignore.Matcher
	if len(w.patterns) > 0 {
		matcher = gitignore.NewMatcher(w.patterns)
	}
	for _, e := range entries {
		name := e.Name()
		child := path.Join(p, name)
		childRel := append(rel[:len(rel):len(rel)], name)
		if strings.HasPrefix(name, ".") || w.skip[child] || (matcher != nil && matcher.Match(childRel, e.IsDir())) {
			continue
		}
		switch {
		case e.IsDir():
			w.dir(child, childRel)
		case isManifestFile(name) && isRegular(w.fsys, child, e):
			w.emit(&job{path: child})
		}
	}
	// A directory's patterns apply only below it.
	w.patterns = w.patterns[:saved]
}

// hasEntry reports whether a sorted directory listing has name.
func hasEntry(entries []fs.DirEntry, name string) bool {
	_, found := slices.BinarySearchFunc(entries, name, func(e fs.DirEntry, name string) int { return strings.Compare(e.Name(), name) })
	return found
}

// readFile reads and decodes one manifest file.
func readFile(fsys fs.FS, p string) result {
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return result{errs: []Error{{Pos: Position{File: p}, Message: "cannot read: " + unwrapPathError(err)}}}
	}
	objs, errs := decodeFile(p, data)
	return result{objects: objs, errs: errs}
}

// readIgnoreFile parses dir's .berthignore, if any; rel is dir's path
// below the rendered root, the patterns' domain.
func readIgnoreFile(fsys fs.FS, dir string, rel []string) ([]gitignore.Pattern, *Error) {
	name := path.Join(dir, IgnoreFile)
	data, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &Error{Pos: Position{File: name}, Message: "cannot read: " + unwrapPathError(err)}
	}
	var ps []gitignore.Pattern
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, rel))
	}
	return ps, nil
}

// isManifestFile reports whether name is read as manifests.
func isManifestFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// isRegular reports whether p is a regular file, following a symbolic
// link to one.
func isRegular(fsys fs.FS, p string, d fs.DirEntry) bool {
	if d.Type().IsRegular() {
		return true
	}
	if d.Type()&fs.ModeSymlink == 0 {
		return false
	}
	info, err := fs.Stat(fsys, p)
	return err == nil && info.Mode().IsRegular()
}

// unwrapPathError drops the operation and path of a *fs.PathError, which
// the message already names.
func unwrapPathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
