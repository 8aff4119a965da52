package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/policies/published"
	"github.com/berth-io/berth/store/registry"
	"github.com/berth-io/berth/store/watchcache"
)

// recheckPublished is how often the published sources are checked
// against the GitSources that exist (a deleted source's policy goes).
const recheckPublished = 2 * time.Second

// watchPublishedPolicies keeps pol's in-memory policy sources equal to
// the ConfigMap kube-system/berth-policies, where gitsync publishes the
// policies folder of each repository it syncs (package policies/published),
// until ctx ends. Every API server runs it, so a merged policy change
// takes effect on all of them within a watch event; a broken one is
// refused by pol (last good files kept, problems in /debug/policies).
// The files of a GitSource that no longer exists are dropped within
// recheckPublished.
func watchPublishedPolicies(ctx context.Context, reg *registry.Registry, caches map[*registry.Kind]*watchcache.Resource, pol *policies.Store, log *slog.Logger) {
	kind, ok := reg.Lookup(corev1.SchemeGroupVersion.WithResource("configmaps"))
	if !ok || caches[kind] == nil {
		log.Error("no ConfigMap cache: policies published by gitsync will not load")
		return
	}
	configMaps := caches[kind]
	sourceExists := func(string) bool { return true }
	if gsKind, ok := reg.Lookup(berthv1alpha1.GitSourcesResource); ok && caches[gsKind] != nil {
		sourceExists = func(source string) bool {
			ns, name, _ := strings.Cut(source, "/")
			_, ok := caches[gsKind].Get(gsKind.Key(ns, name))
			return ok
		}
	}
	applied := map[string]map[string][]byte{} // source → the files handed to pol
	var current *corev1.ConfigMap             // the ConfigMap last seen
	sync := func(cm *corev1.ConfigMap) {
		current = cm
		want := map[string]map[string][]byte{}
		if cm != nil {
			var errs []error
			want, errs = published.Decode(cm)
			for _, err := range errs {
				log.Error("published policies", "err", err)
			}
		}
		for source := range want {
			if !sourceExists(source) {
				delete(want, source)
			}
		}
		for source, files := range want {
			if old, ok := applied[source]; ok && maps.EqualFunc(old, files, bytes.Equal) {
				continue
			}
			applied[source] = files
			if err := pol.SetSource(policySourceName(source), files); err != nil {
				log.Error("published policy update not in force", "source", source, "err", err)
			} else {
				log.Info("published policy in force", "source", source, "files", len(files))
			}
		}
		for source := range applied {
			if _, ok := want[source]; !ok {
				delete(applied, source)
				if err := pol.RemoveSource(policySourceName(source)); err != nil {
					log.Error("removing published policy", "source", source, "err", err)
				}
			}
		}
	}
	for ctx.Err() == nil {
		w, err := configMaps.Watch(watchcache.WatchOptions{InitialEvents: true, Filter: watchcache.Filter{Namespace: published.Namespace}})
		if err != nil {
			log.Error("watching published policies", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		seen := false
		for {
			next, cancel := context.WithTimeout(ctx, recheckPublished)
			ev, err := w.Next(next)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				sync(current) // a GitSource may have gone
				continue
			}
			if err != nil {
				if !errors.Is(err, ctx.Err()) {
					log.Debug("published policies watch ended; watching again", "err", err)
				}
				break
			}
			cm, _ := ev.Object.(*corev1.ConfigMap) // shared: read only
			switch {
			case ev.Type == watch.Bookmark && ev.InitialEnd && !seen:
				sync(nil) // deleted while we were not watching
			case cm == nil || cm.Name != published.Name:
			case ev.Type == watch.Added || ev.Type == watch.Modified:
				seen = true
				sync(cm)
			case ev.Type == watch.Deleted:
				sync(nil)
			}
		}
		w.Stop()
	}
}

// policySourceName names a GitSource's published files in the policy
// status: "gitsource <namespace>/<name>".
func policySourceName(source string) string { return "gitsource " + source }
