// Package manifest renders a tree of Kubernetes manifests, as a GitOps
// repository holds them, into objects that remember where they came from.
//
// Render walks a directory of an fs.FS (a checkout with os.DirFS, a commit
// with GitTreeFS): every .yaml, .yml and .json file, each document of a
// multi-document file, the items of a List, and every directory that holds
// a kustomization.yaml built with the kustomize library
// (sigs.k8s.io/kustomize/api/krusty). A .berthignore file (gitignore
// syntax) in any directory leaves paths out, as do names starting with a
// dot.
//
// YAML is parsed with go.yaml.in/yaml/v3 into a node tree that gives both
// the object (read with the YAML 1.1 rules kubectl uses: "yes", "on", "off"
// and "no" are booleans) and the line and column of every field, so that a
// problem found later in the object is reported at the exact field
// (Object.FieldPosition; the tree is dropped after decoding and parsed
// again, once per file, only if a position is asked for). Duplicate keys
// are errors, as in kubectl's strict decoding.
//
// kustomize output is traced back to the documents it was built from
// (kustomize's origin annotations, asked for during the build and removed
// from the output), so its errors point into the base files too.
//
// Decode reads an Object strictly into a typed k8s.io/api object: unknown
// fields and wrong types become Errors at file:line:column. RevisionFS and
// GitTreeFS render a commit without a checkout.
package manifest
