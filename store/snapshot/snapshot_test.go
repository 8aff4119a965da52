package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/berth-io/berth/store/etcdtest"
)

// saveTestSnapshot fills an etcd with keys, deletes one, saves a snapshot
// and returns its path, the keys left and the revision.
func saveTestSnapshot(t *testing.T) (string, map[string]string, int64) {
	t.Helper()
	ctx := context.Background()
	srv := etcdtest.Start(t)
	c := srv.Client(t)
	want := map[string]string{}
	for i := range 20 {
		key, value := fmt.Sprintf("/registry/configmaps/default/cm%02d", i), fmt.Sprint("value ", i)
		if _, err := c.Put(ctx, key, value); err != nil {
			t.Fatal(err)
		}
		want[key] = value
	}
	resp, err := c.Delete(ctx, "/registry/configmaps/default/cm07")
	if err != nil {
		t.Fatal(err)
	}
	delete(want, "/registry/configmaps/default/cm07")

	path := filepath.Join(t.TempDir(), "backup.db")
	info, err := Save(ctx, clientConfig(srv.Endpoint), path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != path || info.Size != fi.Size() || info.Revision != resp.Header.Revision || info.Keys != len(want) {
		t.Errorf("info = %+v, want path %s, size %d, revision %d, %d keys", info, path, fi.Size(), resp.Header.Revision, len(want))
	}
	if _, err := os.Stat(path + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
	return path, want, resp.Header.Revision
}

func clientConfig(endpoints ...string) clientv3.Config {
	return clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
}

func TestSaveRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	path, want, rev := saveTestSnapshot(t)

	dataDir := filepath.Join(t.TempDir(), "data")
	if err := Restore(path, dataDir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil || len(entries) != 1 || entries[0].Name() != EtcdDir {
		t.Fatalf("data dir holds %v (%v), want only %s", entries, err, EtcdDir)
	}

	c := etcdtest.StartDir(t, EtcdDataDir(dataDir), MemberName).Client(t)
	resp, err := c.Get(ctx, "/registry/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range resp.Kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restored keys %v\nwant %v", got, want)
	}
	if resp.Header.Revision < rev+RevisionBump {
		t.Errorf("revision after restore %d, want at least %d + %d", resp.Header.Revision, rev, RevisionBump)
	}
	// Clients holding an old resourceVersion must relist.
	if _, err := c.Get(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithRev(rev)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Errorf("read at the snapshot's revision: %v, want %v", err, rpctypes.ErrCompacted)
	}
	if _, err := c.Put(ctx, "/registry/after", "restore"); err != nil {
		t.Errorf("write after restore: %v", err)
	}
}

func TestRestoreTarget(t *testing.T) {
	path, _, _ := saveTestSnapshot(t)
	tests := []struct {
		name    string
		prepare func(t *testing.T, etcdDir string)
		wantErr string
	}{
		{"missing data dir", func(*testing.T, string) {}, ""},
		{"empty etcd dir", func(t *testing.T, dir string) { mkdir(t, dir) }, ""},
		{"etcd dir with data", func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "member"))
		}, "already holds etcd data"},
		{"etcd dir is a file", func(t *testing.T, dir string) {
			mkdir(t, filepath.Dir(dir))
			if err := os.WriteFile(dir, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			tt.prepare(t, EtcdDataDir(dataDir))
			before := listTree(t, dataDir)
			err := Restore(path, dataDir)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(EtcdDataDir(dataDir), "member", "snap", "db")); err != nil {
					t.Errorf("restored database missing: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), EtcdDataDir(dataDir)) {
				t.Fatalf("err = %v, want one naming %s and saying %q", err, EtcdDataDir(dataDir), tt.wantErr)
			}
			if after := listTree(t, dataDir); after != before {
				t.Errorf("refused restore changed the data dir:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

func TestRestoreRejectsBadSnapshot(t *testing.T) {
	good, _, _ := saveTestSnapshot(t)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0xff
	tests := []struct {
		name     string
		contents []byte // nil: no file
		wantErr  string
	}{
		{"flipped byte", flipped, "is corrupt: its sha256 checksum does not match"},
		{"truncated", data[:len(data)-100], "is not an etcd snapshot"},
		{"without checksum", data[:len(data)-32], "is not an etcd snapshot"},
		{"empty", []byte{}, "is not an etcd snapshot"},
		{"missing", nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.db")
			if tt.contents != nil {
				if err := os.WriteFile(path, tt.contents, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			dataDir := filepath.Join(t.TempDir(), "data")
			err := Restore(path, dataDir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want one naming %s and saying %q", err, path, tt.wantErr)
			}
			if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("refused restore created %s: %v", dataDir, err)
			}
			if _, err := Status(path); err == nil {
				t.Errorf("Status accepted the bad snapshot")
			}
		})
	}
}

func TestSaveNeedsOneEndpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backup.db")
	for _, endpoints := range [][]string{nil, {"http://127.0.0.1:1", "http://127.0.0.1:2"}} {
		_, err := Save(context.Background(), clientConfig(endpoints...), path)
		if err == nil || !strings.Contains(err.Error(), "exactly one etcd endpoint") {
			t.Errorf("endpoints %v: err = %v, want one asking for exactly one endpoint", endpoints, err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed save created %s", path)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

// listTree lists the paths under root, one a line.
func listTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, _ os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		b.WriteString(path + "\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
