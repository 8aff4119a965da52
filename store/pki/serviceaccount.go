package pki

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"k8s.io/client-go/util/keyutil"
)

// ensureServiceAccountKey loads the token signing key from sa.key, or
// generates it when absent, and keeps sa.pub, its public half for other
// verifiers, in step with it.
func (p *PKI) ensureServiceAccountKey() error {
	keyPEM, haveKey, err := readOptional(p.path(saKeyFile))
	if err != nil {
		return err
	}
	if !haveKey {
		key, err := newKey()
		if err != nil {
			return err
		}
		if keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key); err != nil {
			return fmt.Errorf("service account key: %w", err)
		}
		if err := writeFile(p.path(saKeyFile), keyPEM, keyMode); err != nil {
			return err
		}
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", p.path(saKeyFile), err)
	}
	p.ServiceAccountKey = key
	p.ServiceAccountPublicKey = key.Public()
	return p.ensureServiceAccountPublicKey()
}

// ensureServiceAccountPublicKey writes sa.pub when it is missing and checks
// that an existing one matches sa.key.
func (p *PKI) ensureServiceAccountPublicKey() error {
	pubPEM, havePub, err := readOptional(p.path(saPubFile))
	if err != nil {
		return err
	}
	if havePub {
		keys, err := keyutil.ParsePublicKeysPEM(pubPEM)
		if err != nil {
			return fmt.Errorf("%s: %w", p.path(saPubFile), err)
		}
		if len(keys) != 1 || !publicKeysEqual(keys[0], p.ServiceAccountPublicKey) {
			return fmt.Errorf("%s does not hold the public key of %s: remove it to have it written again", p.path(saPubFile), p.path(saKeyFile))
		}
		return nil
	}
	der, err := x509.MarshalPKIXPublicKey(p.ServiceAccountPublicKey)
	if err != nil {
		return fmt.Errorf("%s: %w", p.path(saPubFile), err)
	}
	return writeFile(p.path(saPubFile), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), certMode)
}
