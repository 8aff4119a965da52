// Package bootstrap holds berth's built-in RBAC policy: the user-facing
// roles (cluster-admin, admin, edit, view), the roles every client needs
// (discovery, basic-user, public-info-viewer) and one role per system
// component, each granting the least that component needs. The files are
// ordinary rbac.authorization.k8s.io/v1 YAML, compiled into the binary, and
// loaded by package policies before any --policy-dir.
package bootstrap

import (
	"embed"
	"io/fs"
)

//go:embed *.yaml
var files embed.FS

// FS returns the bootstrap policy files, one YAML file per role family, at
// the root of the returned file system.
func FS() fs.FS { return files }
