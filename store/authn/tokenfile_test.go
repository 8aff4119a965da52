package authn

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseTokenFile(t *testing.T) {
	file := `# static tokens
token-a,alice,uid-a,"dev,ops"

token-b, bob ,,
token-c,carol,uid-c,solo,ignored,columns
token-d,dave,uid-d
`
	tokens, err := ParseTokenFile(strings.NewReader(file), "tokens.csv")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		token string
		want  *User
	}{
		{"token-a", &User{Name: "alice", UID: "uid-a", Groups: []string{"dev", "ops"}}},
		{"token-b", &User{Name: "bob"}},
		{"token-c", &User{Name: "carol", UID: "uid-c", Groups: []string{"solo"}}},
		{"token-d", &User{Name: "dave", UID: "uid-d"}},
		{"# static tokens", nil},
		{"unknown", nil},
	}
	for _, tt := range tests {
		got, ok, err := tokens.AuthenticateToken(t.Context(), tt.token)
		if err != nil {
			t.Errorf("%s: %v", tt.token, err)
		}
		if tt.want == nil {
			if ok {
				t.Errorf("%s: authenticated as %+v", tt.token, got)
			}
			continue
		}
		if !ok || got.Name != tt.want.Name || got.UID != tt.want.UID || !slices.Equal(got.Groups, tt.want.Groups) {
			t.Errorf("%s: got %+v (ok=%v), want %+v", tt.token, got, ok, tt.want)
		}
	}
}

func TestParseTokenFileErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{
		{
			name: "missing columns",
			file: "# header\ngood,alice,1\nsecret-short,bob\n",
			want: "tokens.csv:3: want at least 3 columns (token,user,uid), found 2",
		},
		{
			name: "duplicate token",
			file: "secret-dup,alice,1\n\nsecret-x,bob,2\nsecret-dup,carol,3\n",
			want: "tokens.csv:4: token already listed on line 1",
		},
		{
			name: "empty token",
			file: "a,alice,1\n  ,bob,2\n",
			want: "tokens.csv:2: token (column 1) is empty",
		},
		{
			name: "empty user",
			file: "a,alice,1\nb,alice,2\nsecret-c, ,3\n",
			want: "tokens.csv:3: user name (column 2) is empty",
		},
		{
			name: "broken quoting",
			file: "a,alice,1\nsecret-q,bob,2,\"dev\"ops\n",
			want: "tokens.csv:2: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTokenFile(strings.NewReader(tt.file), "tokens.csv")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v, want prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q reveals a token", err)
			}
		})
	}
}

func TestLoadTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(path, []byte("t,alice,1\nt,bob,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTokenFile(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2:") {
		t.Errorf("error = %v, want it to start with %s:2:", err, path)
	}
	if _, err := LoadTokenFile(filepath.Join(t.TempDir(), "missing.csv")); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing file: error = %v", err)
	}
}
