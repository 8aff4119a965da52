package fetch

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// WatchRefs calls notify whenever a ref of the local repository at dir
// (a work tree with .git, or a bare repository) changes: a commit, a push
// into it, a new or moved tag, a rewritten packed-refs or HEAD. It returns
// once the watches are set up; they end with ctx. notify must not block.
//
// git writes a ref by renaming "<ref>.lock" over it after the commit's
// objects are written, so the event arrives when the commit is complete.
func WatchRefs(ctx context.Context, dir string, notify func()) error {
	gitDir := dir
	if st, err := os.Stat(filepath.Join(dir, ".git")); err == nil && st.IsDir() {
		gitDir = filepath.Join(dir, ".git")
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", dir, err)
	}
	if err := w.Add(gitDir); err != nil {
		w.Close()
		return fmt.Errorf("watching %s: %w", gitDir, err)
	}
	refs := filepath.Join(gitDir, "refs")
	addTree := func(root string) {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = w.Add(p)
			}
			return nil
		})
	}
	addTree(refs)
	go func() {
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if strings.HasSuffix(ev.Name, ".lock") {
					continue
				}
				inRefs := strings.HasPrefix(ev.Name, refs+string(filepath.Separator)) || ev.Name == refs
				if ev.Has(fsnotify.Create) && inRefs {
					if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
						addTree(ev.Name) // a new namespace of branches, such as refs/heads/feature/
					}
				}
				base := filepath.Base(ev.Name)
				if inRefs || base == "HEAD" || base == "packed-refs" {
					notify()
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
			}
		}
	}()
	return nil
}
