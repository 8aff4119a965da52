package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareDataDir(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(dir string)
		wantErr string
	}{
		{name: "missing dir is created", setup: func(dir string) { _ = os.Remove(dir) }},
		{name: "empty dir is used"},
		{name: "an earlier run is wiped", setup: func(dir string) {
			_ = os.WriteFile(filepath.Join(dir, dataDirMarker), nil, 0o600)
			_ = os.MkdirAll(filepath.Join(dir, "etcd", "member"), 0o700)
			_ = os.WriteFile(filepath.Join(dir, "server.log"), []byte("old"), 0o600)
		}},
		{name: "someone else's data is refused", setup: func(dir string) {
			_ = os.WriteFile(filepath.Join(dir, "admin.kubeconfig"), []byte("precious"), 0o600)
		}, wantErr: "not empty and was not made by berth bench"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bench")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(dir)
			}
			err := PrepareDataDir(dir)
			entries, _ := os.ReadDir(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				if len(entries) != 1 || entries[0].Name() != "admin.kubeconfig" {
					t.Errorf("a refused dir was changed: %v", entries)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != dataDirMarker {
				t.Errorf("want only the marker left, got %v", entries)
			}
		})
	}
}
