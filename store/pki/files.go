package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	// keyMode is the permission of private keys and kubeconfigs.
	keyMode fs.FileMode = 0o600
	// certMode is the permission of certificates and public keys.
	certMode fs.FileMode = 0o644
)

// path is the full name of a file in the PKI directory.
func (p *PKI) path(name string) string {
	return filepath.Join(p.Dir, name)
}

// writePair writes a key and its certificate. The key goes first, so that an
// interrupted write never leaves a certificate without its key.
func (p *PKI) writePair(certFile, keyFile string, certPEM, keyPEM []byte) error {
	if err := writeFile(p.path(keyFile), keyPEM, keyMode); err != nil {
		return err
	}
	return writeFile(p.path(certFile), certPEM, certMode)
}

// readOptional reads a file that may not exist yet; found is false when it
// does not.
func readOptional(path string) (data []byte, found bool, err error) {
	data, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return data, true, nil
}

// writeFile replaces path atomically with data: readers see either the old
// or the new content, never a partial file, and the file has mode from the
// moment it exists.
func writeFile(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
