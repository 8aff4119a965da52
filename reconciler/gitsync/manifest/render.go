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
	jobs, errs := plan(fsys, root, opts)
	results := make([]result, len(jobs))
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var kust *kustomizer
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if !jobs[i].kustomize {
					results[i] = readFile(fsys, jobs[i].path)
				}
			}
		}()
	}
	for i, j := range jobs {
		if !j.kustomize {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	// Kustomizations run one at a time: they share one in-memory copy of
	// the files, made when the first one is built.
	for i, j := range jobs {
		if j.kustomize {
			if kust == nil {
				kust = newKustomizer(fsys)
			}
			results[i] = kust.build(j.path)
		}
	}

	set := &Set{}
	for i, r := range results {
		set.Files = append(set.Files, jobs[i].file())
		set.Objects = append(set.Objects, r.objects...)
		errs = append(errs, r.errs...)
	}
	return set, errs
}

// job is a file to decode or a directory to build with kustomize.
type job struct {
	path      string
	kustomize bool
	kfile     string // the kustomization file, for kustomize
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

// plan walks root in lexical order and lists the jobs to do.
func plan(fsys fs.FS, root string, opts Options) ([]job, []Error) {
	info, err := fs.Stat(fsys, root)
	if err != nil {
		return nil, []Error{{Pos: Position{File: root}, Message: "cannot read: " + unwrapPathError(err)}}
	}
	if !info.IsDir() {
		if slices.Contains(KustomizationFiles, path.Base(root)) {
			return []job{{path: path.Dir(root), kustomize: true, kfile: root}}, nil
		}
		return []job{{path: root}}, nil
	}
	skip := map[string]bool{}
	for _, s := range opts.Skip {
		skip[path.Join(root, s)] = true
	}
	var jobs []job
	var errs []Error
	var patterns []gitignore.Pattern
	err = fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, Error{Pos: Position{File: p}, Message: "cannot read: " + unwrapPathError(err)})
			return nil
		}
		rel := relative(root, p)
		if p != root {
			if strings.HasPrefix(d.Name(), ".") || skip[p] ||
				gitignore.NewMatcher(patterns).Match(rel, d.IsDir()) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
		}
		if !d.IsDir() {
			if isManifestFile(p) && isRegular(fsys, p, d) {
				jobs = append(jobs, job{path: p})
			}
			return nil
		}
		ps, ierr := readIgnoreFile(fsys, p, rel)
		if ierr != nil {
			errs = append(errs, *ierr)
		}
		patterns = append(patterns, ps...)
		for _, k := range KustomizationFiles {
			if _, err := fs.Stat(fsys, path.Join(p, k)); err == nil {
				jobs = append(jobs, job{path: p, kustomize: true, kfile: path.Join(p, k)})
				return fs.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, Error{Pos: Position{File: root}, Message: "cannot read: " + err.Error()})
	}
	return jobs, errs
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

// relative splits p, a path at or below root, into its components below
// root (none for root itself).
func relative(root, p string) []string {
	if root != "." {
		p = strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
	}
	if p == "" || p == "." {
		return nil
	}
	return strings.Split(p, "/")
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
