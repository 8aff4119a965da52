package validation

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func (v Validator) validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := v.objectMeta(&cm.ObjectMeta, true, nameIsDNSSubdomain)
	dataPath, binaryPath := field.NewPath("data"), field.NewPath("binaryData")
	total := 0
	for key, value := range cm.Data {
		errs = append(errs, messages(key, validation.IsConfigMapKey(key), dataPath.Key(key))...)
		if _, dup := cm.BinaryData[key]; dup {
			errs = append(errs, field.Invalid(dataPath.Key(key), key, "duplicate of key present in binaryData"))
		}
		total += len(value)
	}
	for key, value := range cm.BinaryData {
		errs = append(errs, messages(key, validation.IsConfigMapKey(key), binaryPath.Key(key))...)
		total += len(value)
	}
	if total > corev1.MaxSecretSize {
		// The error refers to the whole object ("[]"), as kube-apiserver's does.
		errs = append(errs, field.TooLong(field.NewPath(""), "", corev1.MaxSecretSize))
	}
	return errs
}

func (v Validator) validateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	errs := objectMetaUpdate(&cm.ObjectMeta, &old.ObjectMeta)
	if old.Immutable != nil && *old.Immutable {
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableWhenSetMsg))
		}
		if !apiequality.Semantic.DeepEqual(cm.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableWhenSetMsg))
		}
		if !apiequality.Semantic.DeepEqual(cm.BinaryData, old.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), immutableWhenSetMsg))
		}
	}
	return append(errs, v.validateConfigMap(cm)...)
}

// validateSecret checks keys, total size and the keys each well-known
// secret type requires.
func (v Validator) validateSecret(s *corev1.Secret) field.ErrorList {
	errs := v.objectMeta(&s.ObjectMeta, true, nameIsDNSSubdomain)
	dataPath := field.NewPath("data")
	total := 0
	for key, value := range s.Data {
		errs = append(errs, messages(key, validation.IsConfigMapKey(key), dataPath.Key(key))...)
		total += len(value)
	}
	// stringData is folded into data by defaulting; check what is left.
	for key, value := range s.StringData {
		errs = append(errs, messages(key, validation.IsConfigMapKey(key), field.NewPath("stringData").Key(key))...)
		if _, inData := s.Data[key]; !inData {
			total += len(value)
		}
	}
	if total > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", corev1.MaxSecretSize))
	}
	has := func(key string) bool {
		if _, ok := s.Data[key]; ok {
			return true
		}
		_, ok := s.StringData[key]
		return ok
	}
	requireKeys := func(keys ...string) {
		for _, k := range keys {
			if !has(k) {
				errs = append(errs, field.Required(dataPath.Key(k), ""))
			}
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(metadataPath.Child("annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		errs = append(errs, jsonKey(s, corev1.DockerConfigKey, dataPath)...)
	case corev1.SecretTypeDockerConfigJson:
		errs = append(errs, jsonKey(s, corev1.DockerConfigJsonKey, dataPath)...)
	case corev1.SecretTypeBasicAuth:
		if !has(corev1.BasicAuthUsernameKey) && !has(corev1.BasicAuthPasswordKey) {
			requireKeys(corev1.BasicAuthUsernameKey, corev1.BasicAuthPasswordKey)
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 && s.StringData[corev1.SSHAuthPrivateKey] == "" {
			errs = append(errs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		requireKeys(corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	return errs
}

// jsonKey requires key to be present and to hold a JSON object.
func jsonKey(s *corev1.Secret, key string, dataPath *field.Path) field.ErrorList {
	content, ok := s.Data[key]
	if str, inString := s.StringData[key]; inString {
		content, ok = []byte(str), true
	}
	if !ok {
		return field.ErrorList{field.Required(dataPath.Key(key), "")}
	}
	if err := json.Unmarshal(content, &map[string]any{}); err != nil {
		return field.ErrorList{field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error())}
	}
	return nil
}

func (v Validator) validateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := objectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, immutable(s.Type, old.Type, field.NewPath("type"))...)
	if old.Immutable != nil && *old.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableWhenSetMsg))
		}
		if !apiequality.Semantic.DeepEqual(s.Data, old.Data) || len(s.StringData) > 0 {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableWhenSetMsg))
		}
	}
	return append(errs, v.validateSecret(s)...)
}
