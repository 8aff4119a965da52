package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/gitsync"
	"github.com/berth-io/berth/store/server"
)

// repoServiceAccount is the identity the --repo source is applied as; the
// bootstrap binding berth:repo makes it cluster-admin.
const repoServiceAccount = "berth-repo"

// repoFlags are `berth server --repo URL_OR_PATH [--repo-path P] [--repo-ref R]`.
type repoFlags struct{ url, path, ref string }

func (r *repoFlags) addFlags(f *pflag.FlagSet) {
	f.StringVar(&r.url, "repo", "", "git repository to sync the cluster from (local path, file://, https:// or ssh://): creates the GitSource kube-system/repo")
	f.StringVar(&r.path, "repo-path", "", "directory inside --repo holding the manifests (default: the root)")
	f.StringVar(&r.ref, "repo-ref", "", "branch, tag or commit of --repo to sync (default: the repository's HEAD branch)")
}

// ensure creates or updates the --repo GitSource and its ServiceAccount.
func (r *repoFlags) ensure(ctx context.Context, s *server.Server) error {
	url, err := repoURL(r.url)
	if err != nil {
		return err
	}
	config, err := restConfig(s.Kubeconfig(), 0, 0)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: repoServiceAccount, Namespace: gitsync.RepoSourceNamespace}}
	if _, err := client.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("--repo: creating the ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	config.ContentType = "application/json"
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	src := gitsync.RepoSource(url, r.path, r.ref, repoServiceAccount)
	body, err := json.Marshal(src)
	if err != nil {
		return err
	}
	force := true
	_, err = dyn.Resource(berthv1alpha1.SchemeGroupVersion.WithResource("gitsources")).Namespace(src.Namespace).
		Patch(ctx, src.Name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "berth-server", Force: &force})
	if err != nil {
		return fmt.Errorf("--repo: applying the GitSource %s/%s: %w", src.Namespace, src.Name, err)
	}
	return nil
}

// repoURL makes a local repository path absolute (gitsync may run with
// another working directory) and checks that it is a git repository.
func repoURL(url string) (string, error) {
	if strings.Contains(url, "://") || strings.HasPrefix(url, "git@") {
		return url, nil
	}
	abs, err := filepath.Abs(url)
	if err != nil {
		return "", err
	}
	for _, marker := range []string{".git", "HEAD"} {
		if _, err := os.Stat(filepath.Join(abs, marker)); err == nil {
			return abs, nil
		}
	}
	return "", usageError{fmt.Errorf("--repo %s: not a git repository (no .git in it); run git init there, or give a URL", url)}
}
