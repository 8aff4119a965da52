package fetch

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

func TestAuthPicksTheURLsTransport(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	identity := pem.EncodeToMemory(block)
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	knownHosts := []byte("git.example.com " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + "\n")
	f := New(t.TempDir())

	a, err := f.Auth(Request{URL: "https://git.example.com/a/b.git", Credentials: &Credentials{Token: "t0ken"}})
	if b, ok := a.(*githttp.BasicAuth); err != nil || !ok || b.Password != "t0ken" || b.Username != "git" {
		t.Fatalf("https token: %#v %v", a, err)
	}
	if strings.Contains(a.String(), "t0ken") {
		t.Fatalf("the auth method prints the token: %s", a)
	}
	a, err = f.Auth(Request{URL: "https://git.example.com/a/b.git", Credentials: &Credentials{Username: "u", Password: "p"}})
	if b, ok := a.(*githttp.BasicAuth); err != nil || !ok || b.Username != "u" || b.Password != "p" {
		t.Fatalf("https basic auth: %#v %v", a, err)
	}
	a, err = f.Auth(Request{URL: "ssh://deploy@git.example.com/a/b.git", Credentials: &Credentials{Identity: identity, KnownHosts: knownHosts}})
	if k, ok := a.(*gitssh.PublicKeys); err != nil || !ok || k.User != "deploy" || k.HostKeyCallback == nil {
		t.Fatalf("ssh key: %#v %v", a, err)
	}
	a, err = f.Auth(Request{URL: "git@git.example.com:a/b.git", Credentials: &Credentials{Identity: identity, KnownHosts: knownHosts}})
	if k, ok := a.(*gitssh.PublicKeys); err != nil || !ok || k.User != "git" {
		t.Fatalf("scp-like ssh: %#v %v", a, err)
	}
	if _, err := f.Auth(Request{URL: "ssh://git.example.com/a/b.git", Credentials: &Credentials{Identity: identity}}); err == nil || !strings.Contains(err.Error(), "known_hosts") {
		t.Fatalf("an ssh key without known_hosts must be refused: %v", err)
	}
	if _, err := f.Auth(Request{URL: "ssh://git.example.com/a/b.git", Credentials: &Credentials{Identity: []byte("not a key"), KnownHosts: knownHosts}}); err == nil {
		t.Fatal("a bad key was accepted")
	}
	if a, err := f.Auth(Request{URL: "https://git.example.com/a/b.git"}); err != nil || a != nil {
		t.Fatalf("no credentials: %v %v", a, err)
	}
}
