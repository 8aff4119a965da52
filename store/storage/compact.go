package storage

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// CompactRevisionKey records the revision of the newest compaction. It lives
// under the registry prefix so that every API server's watch cache sees it
// and stops serving history etcd no longer has.
const CompactRevisionKey = "/registry/compact_rev_key"

// Compact discards etcd history before rev. It announces rev first so that
// watch caches answer 410 Gone for older revisions, exactly as etcd will.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	if _, err := s.client.Put(ctx, CompactRevisionKey, strconv.FormatInt(rev, 10)); err != nil {
		return err
	}
	if _, err := s.client.Compact(ctx, rev); err != nil && !isCompacted(err) {
		return err
	}
	return nil
}

// RunCompactor compacts every interval up to the revision that was newest
// one interval earlier, so clients always have at least one interval of
// history to resume watches from. It returns when ctx ends.
func (s *Store) RunCompactor(ctx context.Context, interval time.Duration, log *slog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var previous int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if previous > 0 {
			if err := s.Compact(ctx, previous); err != nil && ctx.Err() == nil {
				log.Warn("etcd compaction failed", "revision", previous, "err", err)
			}
		}
		rev, err := s.CurrentRevision(ctx)
		if err == nil {
			previous = rev
		}
	}
}

func isCompacted(err error) bool {
	return errors.Is(err, rpctypes.ErrCompacted) || (err != nil && err.Error() == rpctypes.ErrCompacted.Error())
}
