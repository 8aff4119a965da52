package diff

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"

	"github.com/go-git/go-git/v5"

	"github.com/berth-io/berth/reconciler/gitsync/manifest"
	"github.com/berth-io/berth/reconciler/gitsync/validate"
)

// WorkingTree is the Rev of a Revision read from the checkout's files.
const WorkingTree = "working tree"

// DefaultBases are the revisions tried, in order, when no base is given:
// the remote's main branch (a pull request's target), else the local main
// branch, else the last commit (so that uncommitted changes show).
var DefaultBases = []string{"origin/main", "main", "HEAD"}

// Repo says which revisions of a repository to compare.
type Repo struct {
	// Dir is the repository's work tree (or a directory inside it).
	Dir string
	// Base is the revision merged into; "" tries DefaultBases.
	Base string
	// Head is the revision to merge; "" is the work tree's files as they
	// are (uncommitted changes included).
	Head string
	// Path is the directory of the repository that the GitSource syncs
	// (spec.path); "" means the root.
	Path string
}

// Side is one revision rendered and validated.
type Side struct {
	Revision Revision
	Report   *validate.Report
}

// Open renders and validates the base and head revisions of r, as the sync
// would with opts.
func (r Repo) Open(opts Options) (base, head Side, err error) {
	repo, err := r.open()
	if err != nil {
		return Side{}, Side{}, err
	}
	baseRev := r.Base
	if baseRev == "" {
		baseRev, err = firstRevision(repo, DefaultBases)
		if err != nil {
			return Side{}, Side{}, err
		}
	}
	base, err = revisionSide(repo, baseRev, r.root(), opts)
	if err != nil {
		return Side{}, Side{}, err
	}
	head, err = r.head(repo, opts)
	return base, head, err
}

// OpenHead renders and validates the head revision of r alone.
func (r Repo) OpenHead(opts Options) (Side, error) {
	repo, err := r.open()
	if err != nil {
		return Side{}, err
	}
	return r.head(repo, opts)
}

func (r Repo) open() (*git.Repository, error) {
	repo, err := git.PlainOpenWithOptions(cmp.Or(r.Dir, "."), &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening the git repository at %s: %w", cmp.Or(r.Dir, "."), err)
	}
	return repo, nil
}

func (r Repo) root() string { return path.Clean(cmp.Or(r.Path, ".")) }

func (r Repo) head(repo *git.Repository, opts Options) (Side, error) {
	if r.Head != "" {
		return revisionSide(repo, r.Head, r.root(), opts)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return Side{}, fmt.Errorf("the repository has no work tree to compare (a bare repository): give --head: %w", err)
	}
	return Side{Revision: Revision{Rev: WorkingTree}, Report: check(os.DirFS(wt.Filesystem.Root()), r.root(), opts)}, nil
}

// Compare is Compare of the revisions of r.
func (r Repo) Compare(opts Options) (*Result, error) {
	if opts.PolicyDir == "" {
		opts.PolicyDir = r.PolicyDir()
	}
	base, head, err := r.Open(opts)
	if err != nil {
		return nil, err
	}
	res := Compare(base.Report, head.Report, opts)
	res.Base, res.Head = base.Revision, head.Revision
	return res, nil
}

// firstRevision is the first of revs that repo has.
func firstRevision(repo *git.Repository, revs []string) (string, error) {
	for _, rev := range revs {
		if _, _, err := manifest.RevisionFS(repo, rev); err == nil {
			return rev, nil
		}
	}
	return "", fmt.Errorf("none of the revisions %v exists in the repository (no commit yet?): give --base", revs)
}

func revisionSide(repo *git.Repository, rev, root string, opts Options) (Side, error) {
	fsys, hash, err := manifest.RevisionFS(repo, rev)
	if err != nil {
		return Side{}, fmt.Errorf("revision %q: %w", rev, err)
	}
	if root != "." {
		if _, err := fs.Stat(fsys, root); errors.Is(err, fs.ErrNotExist) {
			// The path does not exist in this revision (yet, or any
			// more): it renders to nothing.
			return Side{Revision: Revision{Rev: rev, Commit: hash.String()}, Report: &validate.Report{}}, nil
		}
	}
	return Side{Revision: Revision{Rev: rev, Commit: hash.String()}, Report: check(fsys, root, opts)}, nil
}

func check(fsys fs.FS, root string, opts Options) *validate.Report {
	return validate.Check([]validate.Source{{FS: fsys, Root: root}}, validate.Options{DefaultNamespace: opts.namespace()})
}

// PolicyDir is where r's policy files are, as validate names them.
func (r Repo) PolicyDir() string { return path.Join(r.root(), validate.PolicyDir) }
