package agent

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/berth-io/berth/agents/images"
)

// importImages imports every image tarball in dir (runtime.Layout's
// ImagesDir) into the runtime at address. A tarball that cannot be read
// is logged and skipped: the pods that need it report ErrImagePull.
func importImages(ctx context.Context, address, dir string, log *slog.Logger) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil || len(files) == 0 {
		return err
	}
	store, err := images.Open(ctx, address)
	if err != nil {
		return fmt.Errorf("agent: importing the images in %s: %w", dir, err)
	}
	defer store.Close()
	for _, f := range files {
		start := time.Now()
		names, err := store.ImportFile(ctx, f)
		if err != nil {
			log.Error("image tarball not imported", "file", f, "err", err)
			continue
		}
		log.Info("imported images", "file", f, "images", names, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}
