// Package published carries the policy files of synced git repositories
// to every API server, through one ConfigMap, kube-system/berth-policies.
//
// gitsync, once it has validated a commit, calls Publish with the files of
// the repository's policies folder; each API server watches the ConfigMap
// and hands each source's files to its policies.Store (Store.SetSource),
// which refuses a broken set and keeps the last good one. A merged policy
// change so reaches all API servers within a watch event's latency.
//
// One ConfigMap holds every source, so that RBAC can confine gitsync's
// writes to it by name (see policies/bootstrap/gitsync.yaml); each source's
// files are keys of their own:
//
//	<namespace>.<name>_<escaped path>
//
// where the path is escaped into the characters a ConfigMap key allows:
// "_" followed by two hex digits stands for a byte outside [-.A-Za-z0-9]
// ("/" is "_2f"). A ConfigMap holds at most 1 MiB: plenty for policy.
//
// How gitsync calls it, with its own client (not the impersonated
// ServiceAccount's), after the commit validated:
//
//	err := published.Publish(ctx, client, published.SourceName(ns, name), files) // files: "policies/team-a.yaml" → content
//
// The API servers load only the files of GitSources that exist, so a
// deleted source's policy goes at once; Unpublish tidies its keys away.
package published

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Namespace and Name locate the ConfigMap.
const (
	Namespace = metav1.NamespaceSystem
	Name      = "berth-policies"
)

// FieldManager writes the ConfigMap.
const FieldManager = "berth-gitsync"

// SourceName is how a GitSource is named as a policy source (and in the
// /debug/policies status): "<namespace>/<name>".
func SourceName(namespace, name string) string { return namespace + "/" + name }

// Publish makes files (path → content) the published policy files of
// source ("<namespace>/<name>"), replacing those it had; an empty files
// publishes an empty policies folder. It retries on conflicting writes.
func Publish(ctx context.Context, client kubernetes.Interface, source string, files map[string][]byte) error {
	data := map[string]string{}
	for p, content := range files {
		k, err := Key(source, p)
		if err != nil {
			return err
		}
		if !utf8.Valid(content) {
			return fmt.Errorf("%s: policy files are UTF-8 text", p)
		}
		data[k] = string(content)
	}
	// An empty folder still marks the source as published, with no files.
	marker, err := Key(source, "")
	if err != nil {
		return err
	}
	data[marker] = ""
	return update(ctx, client, source, data)
}

// Unpublish removes source's files.
func Unpublish(ctx context.Context, client kubernetes.Interface, source string) error {
	return update(ctx, client, source, nil)
}

// update replaces source's keys of the ConfigMap by data.
func update(ctx context.Context, client kubernetes.Interface, source string, data map[string]string) error {
	prefix, err := keyPrefix(source)
	if err != nil {
		return err
	}
	cms := client.CoreV1().ConfigMaps(Namespace)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if len(data) == 0 {
				return nil
			}
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "berth-gitsync"}}, Data: data}
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: FieldManager})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("configmaps"), Name, err) // retry as an update
			}
			return err
		}
		if err != nil {
			return err
		}
		next := map[string]string{}
		for k, v := range cm.Data {
			if !strings.HasPrefix(k, prefix) {
				next[k] = v
			}
		}
		maps.Copy(next, data)
		if maps.Equal(next, cm.Data) {
			return nil
		}
		cm.Data = next
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: FieldManager})
		return err
	})
	if err != nil {
		return fmt.Errorf("publishing the policy files of %s to ConfigMap %s/%s: %w", source, Namespace, Name, err)
	}
	return nil
}

// Decode reads the ConfigMap's sources: source → path → content. Keys it
// cannot read are returned as errors and left out.
func Decode(cm *corev1.ConfigMap) (map[string]map[string][]byte, []error) {
	out := map[string]map[string][]byte{}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
		source, p, err := ParseKey(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if out[source] == nil {
			out[source] = map[string][]byte{}
		}
		if p != "" {
			out[source][p] = []byte(cm.Data[k])
		}
	}
	return out, errs
}

// Key is the ConfigMap key of file p of source ("<namespace>/<name>"); p
// empty is the source's marker.
func Key(source, p string) (string, error) {
	prefix, err := keyPrefix(source)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '-' || c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	k := b.String()
	if msgs := validation.IsConfigMapKey(k); len(msgs) > 0 {
		return "", fmt.Errorf("policy file %q of %s cannot be published: key %q: %s", p, source, k, strings.Join(msgs, "; "))
	}
	return k, nil
}

// ParseKey undoes Key.
func ParseKey(k string) (source, p string, err error) {
	ns, rest, ok := strings.Cut(k, ".")
	name, escaped, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || ns == "" || name == "" {
		return "", "", fmt.Errorf("key %q of ConfigMap %s/%s: not <namespace>.<name>_<path>", k, Namespace, Name)
	}
	var b strings.Builder
	for i := 0; i < len(escaped); i++ {
		if escaped[i] != '_' {
			b.WriteByte(escaped[i])
			continue
		}
		var c byte
		if i+2 >= len(escaped) || !isHex(escaped[i+1]) || !isHex(escaped[i+2]) {
			return "", "", fmt.Errorf("key %q of ConfigMap %s/%s: bad escape at %d", k, Namespace, Name, i)
		}
		if _, err := fmt.Sscanf(escaped[i+1:i+3], "%02x", &c); err != nil {
			return "", "", fmt.Errorf("key %q: %w", k, err)
		}
		b.WriteByte(c)
		i += 2
	}
	return ns + "/" + name, b.String(), nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// keyPrefix is "<namespace>.<name>_" for source "<namespace>/<name>".
func keyPrefix(source string) (string, error) {
	ns, name, ok := strings.Cut(source, "/")
	if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return "", errors.New("policy source " + fmt.Sprintf("%q", source) + ": want <namespace>/<name> of a GitSource")
	}
	return ns + "." + name + "_", nil
}
