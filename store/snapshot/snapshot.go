// Package snapshot saves the etcd keyspace of a berth cluster to a file and
// restores such a file into a data directory the embedded etcd starts from.
package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	clientv3 "go.etcd.io/etcd/client/v3"
	clientsnapshot "go.etcd.io/etcd/client/v3/snapshot"
	etcdutlsnapshot "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// The identity of the etcd member Restore writes. The embedded etcd must be
// configured with these (embed.Config Name, InitialCluster and
// InitialClusterToken) to match a restored data directory; they are also
// embed's defaults.
const (
	// MemberName is the name of the single etcd member.
	MemberName = "default"
	// PeerURL is the member's advertised peer URL.
	PeerURL = "http://localhost:2380"
	// InitialCluster lists the member for embed.Config.InitialCluster.
	InitialCluster = MemberName + "=" + PeerURL
	// ClusterToken is embed.Config.InitialClusterToken.
	ClusterToken = "etcd-cluster"
	// EtcdDir is the subdirectory of berth's data directory that holds the
	// embedded etcd's data (embed.Config.Dir); see EtcdDataDir.
	EtcdDir = "etcd"
)

// RevisionBump is how far Restore moves the etcd revision forward, marking
// everything before it compacted. Clients that watched the cluster before
// the restore hold resourceVersions up to the revision of that time, which
// may be past the snapshot's; after the bump their watches and lists answer
// 410 Gone and they relist, instead of waiting for revisions that the
// restored keyspace reaches with different content, as etcd's disaster
// recovery guide advises for Kubernetes.
const RevisionBump = 1_000_000_000

// Info describes a snapshot file.
type Info struct {
	// Path is the file.
	Path string
	// Size is the file size in bytes.
	Size int64
	// Revision is the etcd revision the snapshot was taken at.
	Revision int64
	// Keys is the number of keys in the snapshot.
	Keys int
	// Hash is the CRC-32 of the contents, as "etcdctl snapshot status"
	// prints it.
	Hash uint32
	// StorageVersion is the etcd storage version of the snapshot ("3.6.0").
	StorageVersion string
}

// EtcdDataDir is the embedded etcd's data directory within berth's data
// directory dataDir.
func EtcdDataDir(dataDir string) string { return filepath.Join(dataDir, EtcdDir) }

// Save streams a snapshot of the etcd member at cfg's only endpoint into
// path: written to path.part, checked and renamed, so path is either the
// previous file or a complete snapshot. A snapshot is the state of one
// member, so cfg must name exactly one endpoint.
func Save(ctx context.Context, cfg clientv3.Config, path string) (Info, error) {
	if len(cfg.Endpoints) != 1 {
		return Info{}, fmt.Errorf("snapshot save to %s: want exactly one etcd endpoint, got %d %v (a snapshot is the state of one member)", path, len(cfg.Endpoints), cfg.Endpoints)
	}
	if _, err := clientsnapshot.SaveWithVersion(ctx, zap.NewNop(), cfg, path); err != nil {
		return Info{}, fmt.Errorf("snapshot save from %s to %s: %w", cfg.Endpoints[0], path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return Info{}, err
	}
	return Status(path)
}

// Status checks a snapshot file (its checksum and database structure) and
// describes it.
func Status(path string) (Info, error) {
	if err := verify(path); err != nil {
		return Info{}, err
	}
	st, err := etcdutlsnapshot.NewV3(zap.NewNop()).Status(path)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot %s is corrupt: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return Info{
		Path:           path,
		Size:           fi.Size(),
		Revision:       st.Revision,
		Keys:           st.TotalKey,
		Hash:           st.Hash,
		StorageVersion: st.Version,
	}, nil
}

// Restore writes a new etcd data directory for the embedded etcd,
// EtcdDataDir(dataDir), from the snapshot file, for the member MemberName at
// PeerURL, with the revision moved forward by RevisionBump. It refuses to
// write over a directory that holds anything and refuses a snapshot whose
// checksum does not match. The directory appears complete or not at all:
// the restore is written beside it and renamed into place.
func Restore(snapshotPath, dataDir string) error {
	target := EtcdDataDir(dataDir)
	if err := ensureEmpty(target); err != nil {
		return err
	}
	if err := verify(snapshotPath); err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("restore %s: create data directory: %w", snapshotPath, err)
	}
	tmp, err := os.MkdirTemp(dataDir, ".etcd-restore-")
	if err != nil {
		return fmt.Errorf("restore %s: %w", snapshotPath, err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; the leftovers of a failure otherwise

	err = etcdutlsnapshot.NewV3(zap.NewNop()).Restore(etcdutlsnapshot.RestoreConfig{
		SnapshotPath:        snapshotPath,
		Name:                MemberName,
		OutputDataDir:       tmp,
		PeerURLs:            []string{PeerURL},
		InitialCluster:      InitialCluster,
		InitialClusterToken: ClusterToken,
		RevisionBump:        RevisionBump,
		MarkCompacted:       true,
	})
	if err != nil {
		return fmt.Errorf("restore %s into %s: %w", snapshotPath, target, err)
	}
	// os.Rename never replaces a directory: drop the empty one ensureEmpty
	// allowed (os.Remove refuses a directory that has filled up meanwhile).
	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("restore %s: replace empty %s: %w", snapshotPath, target, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("restore %s: move the restored data into %s: %w", snapshotPath, target, err)
	}
	return syncDir(dataDir)
}

// ensureEmpty refuses a directory that exists and holds anything.
func ensureEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("restore into %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("restore into %s: the directory already holds etcd data; stop the server and move it away (or restore with another --data-dir) first", dir)
	}
	return nil
}

// verify checks that path is an etcd snapshot with an intact checksum: the
// database followed by the SHA-256 of its bytes, the database a whole number
// of 512-byte sectors. etcdutl's restore checks the same, but only after it
// has started writing the data directory and with messages about etcdctl's
// flags; checking first gives a clear error and writes nothing.
func verify(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	size := fi.Size() - sha256.Size
	if size <= 0 || size%512 != 0 {
		return fmt.Errorf("snapshot %s is not an etcd snapshot: %d bytes is not a database followed by its sha256 checksum (truncated, or copied from a data directory?)", path, fi.Size())
	}
	h := sha256.New()
	if _, err := io.CopyN(h, f, size); err != nil {
		return fmt.Errorf("snapshot %s: read: %w", path, err)
	}
	sum := make([]byte, sha256.Size)
	if _, err := io.ReadFull(f, sum); err != nil {
		return fmt.Errorf("snapshot %s: read checksum: %w", path, err)
	}
	if !bytes.Equal(h.Sum(nil), sum) {
		return fmt.Errorf("snapshot %s is corrupt: its sha256 checksum does not match its contents", path)
	}
	return nil
}

// syncDir makes a rename within dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
