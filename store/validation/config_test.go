package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func validConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "web-config", Namespace: "shop", ResourceVersion: "7"},
		Data:       map[string]string{"app.yaml": "port: 8080\n", "LOG_LEVEL": "info", ".hidden": "x"},
		BinaryData: map[string][]byte{"logo.png": {0x89, 0x50}},
	}
}

func TestConfigMap(t *testing.T) {
	runCases(t, validConfigMap, func(c *corev1.ConfigMap) field.ErrorList { return Validate(c) }, []errCase[*corev1.ConfigMap]{
		{"name", func(c *corev1.ConfigMap) { c.Name = "Web Config" }, "metadata.name", invalid, ""},
		{"key with space", func(c *corev1.ConfigMap) { c.Data["app config"] = "" }, "data[app config]", invalid,
			"a valid config key must consist of alphanumeric characters, '-', '_' or '.'"},
		{"key with slash", func(c *corev1.ConfigMap) { c.BinaryData["a/b"] = nil }, "binaryData[a/b]", invalid, ""},
		{"key '..'", func(c *corev1.ConfigMap) { c.Data[".."] = "" }, "data[..]", invalid, ""},
		{"key in both", func(c *corev1.ConfigMap) { c.Data["logo.png"] = "" }, "data[logo.png]", invalid, "duplicate of key present in binaryData"},
		{"over 1MiB", func(c *corev1.ConfigMap) { c.Data["big"] = strings.Repeat("x", 1024*1024) }, "[]", tooLong, "may not be more than 1048576 bytes"},
	})
}

func TestConfigMapUpdate(t *testing.T) {
	old := validConfigMap()
	old.Immutable = ptr.To(true)
	runCases(t, func() *corev1.ConfigMap { return old.DeepCopy() }, func(c *corev1.ConfigMap) field.ErrorList { return ValidateUpdate(c, old) }, []errCase[*corev1.ConfigMap]{
		{"data changed", func(c *corev1.ConfigMap) { c.Data["LOG_LEVEL"] = "debug" }, "data", forbidden, "field is immutable when `immutable` is set"},
		{"binary data changed", func(c *corev1.ConfigMap) { c.BinaryData = nil }, "binaryData", forbidden, ""},
		{"immutable unset", func(c *corev1.ConfigMap) { c.Immutable = nil }, "immutable", forbidden, ""},
	})
	mutable := validConfigMap()
	changed := mutable.DeepCopy()
	changed.Data["LOG_LEVEL"] = "debug"
	changed.Immutable = ptr.To(true)
	expectValid(t, ValidateUpdate(changed, mutable))
	labelled := old.DeepCopy()
	labelled.Labels = map[string]string{"team": "shop"}
	expectValid(t, ValidateUpdate(labelled, old))
}

func validSecret() *corev1.Secret {
	return defaulted(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", ResourceVersion: "9"},
		Data:       map[string][]byte{"password": []byte("s3cret")},
		StringData: map[string]string{"username": "shop"},
	})
}

func TestSecret(t *testing.T) {
	runCases(t, validSecret, func(s *corev1.Secret) field.ErrorList { return Validate(s) }, []errCase[*corev1.Secret]{
		{"key", func(s *corev1.Secret) { s.Data["pass word"] = nil }, "data[pass word]", invalid, ""},
		{"over 1MiB", func(s *corev1.Secret) { s.Data["big"] = make([]byte, 1024*1024) }, "data", tooLong, ""},
		{"tls without keys", func(s *corev1.Secret) { s.Type = corev1.SecretTypeTLS; s.Data = map[string][]byte{"tls.crt": nil} }, "data[tls.key]", required, ""},
		{"docker config missing", func(s *corev1.Secret) { s.Type = corev1.SecretTypeDockerConfigJson }, "data[.dockerconfigjson]", required, ""},
		{"docker config not JSON", func(s *corev1.Secret) {
			s.Type = corev1.SecretTypeDockerConfigJson
			s.Data[".dockerconfigjson"] = []byte("{auths")
		}, "data[.dockerconfigjson]", invalid, "<secret contents redacted>"},
		{"token without service account", func(s *corev1.Secret) { s.Type = corev1.SecretTypeServiceAccountToken },
			"metadata.annotations[kubernetes.io/service-account.name]", required, ""},
		{"basic auth without credentials", func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth; s.Data = nil }, "data[password]", required, ""},
		{"ssh auth without key", func(s *corev1.Secret) { s.Type = corev1.SecretTypeSSHAuth }, "data[ssh-privatekey]", required, ""},
	})
	tls := defaulted(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "shop"}, Type: corev1.SecretTypeTLS,
		StringData: map[string]string{"tls.crt": "-----BEGIN CERTIFICATE-----", "tls.key": "-----BEGIN PRIVATE KEY-----"}})
	expectValid(t, Validate(tls))
	docker := defaulted(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "shop"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{".dockerconfigjson": []byte(`{"auths":{"registry.example.com":{"auth":"eDp5"}}}`)}})
	expectValid(t, Validate(docker))
}

func TestSecretUpdate(t *testing.T) {
	old := validSecret()
	old.Immutable = ptr.To(true)
	runCases(t, func() *corev1.Secret { return old.DeepCopy() }, func(s *corev1.Secret) field.ErrorList { return ValidateUpdate(s, old) }, []errCase[*corev1.Secret]{
		{"type changed", func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth }, "type", invalid, "field is immutable"},
		{"data of immutable secret", func(s *corev1.Secret) { s.Data["password"] = []byte("new") }, "data", forbidden, "field is immutable when `immutable` is set"},
		{"immutable unset", func(s *corev1.Secret) { s.Immutable = ptr.To(false) }, "immutable", forbidden, ""},
	})
}
