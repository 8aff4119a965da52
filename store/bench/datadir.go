package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// dataDirMarker names the file that marks a directory as a benchmark's
// own, so that a later run may wipe it.
const dataDirMarker = ".berth-bench"

// PrepareDataDir makes dir an empty data directory for a benchmark's
// server: it creates it when missing and wipes it when an earlier run left
// it (marked by a .berth-bench file). Any other non-empty directory is
// refused rather than deleted.
func PrepareDataDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("data dir %s: %w", dir, err)
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, dataDirMarker)); err != nil {
			return fmt.Errorf("data dir %s is not empty and was not made by berth bench: give a new or empty directory", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("wiping the previous benchmark's data dir %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	return os.WriteFile(filepath.Join(dir, dataDirMarker), []byte("made by berth bench api; wiped by its next run\n"), 0o600)
}
