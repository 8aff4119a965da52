package validation

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

var supportedHostPathTypes = []corev1.HostPathType{corev1.HostPathUnset, corev1.HostPathBlockDev, corev1.HostPathCharDev,
	corev1.HostPathDirectory, corev1.HostPathDirectoryOrCreate, corev1.HostPathFile, corev1.HostPathFileOrCreate, corev1.HostPathSocket}

// validateVolumes checks the volumes of a pod spec and returns them by name
// for the mounts to refer to. podName is empty for templates.
func validateVolumes(volumes []corev1.Volume, podName string, isPod bool, fldPath *field.Path) (map[string]corev1.VolumeSource, field.ErrorList) {
	var errs field.ErrorList
	byName := make(map[string]corev1.VolumeSource, len(volumes))
	for i := range volumes {
		vol := &volumes[i]
		p := fldPath.Index(i)
		if vol.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			errs = append(errs, dnsLabel(vol.Name, p.Child("name"))...)
		}
		if _, dup := byName[vol.Name]; dup {
			errs = append(errs, field.Duplicate(p.Child("name"), vol.Name))
		} else {
			byName[vol.Name] = vol.VolumeSource
		}
		errs = append(errs, validateVolumeSource(&vol.VolumeSource, p, isPod)...)
		if vol.Ephemeral != nil && podName != "" && vol.Name != "" {
			claim := podName + "-" + vol.Name
			for _, msg := range nameIsDNSSubdomain(claim, false) {
				errs = append(errs, field.Invalid(p.Child("name"), vol.Name, fmt.Sprintf("PVC name %q: %v", claim, msg)))
			}
		}
	}
	return byName, errs
}

// volumeSources lists the sources of a volume in the order Kubernetes
// checks them.
func volumeSources(s *corev1.VolumeSource) []setField {
	return []setField{
		{"emptyDir", s.EmptyDir != nil}, {"hostPath", s.HostPath != nil}, {"gitRepo", s.GitRepo != nil},
		{"gcePersistentDisk", s.GCEPersistentDisk != nil}, {"awsElasticBlockStore", s.AWSElasticBlockStore != nil},
		{"secret", s.Secret != nil}, {"nfs", s.NFS != nil}, {"iscsi", s.ISCSI != nil}, {"glusterfs", s.Glusterfs != nil},
		{"flocker", s.Flocker != nil}, {"persistentVolumeClaim", s.PersistentVolumeClaim != nil}, {"rbd", s.RBD != nil},
		{"cinder", s.Cinder != nil}, {"cephfs", s.CephFS != nil}, {"quobyte", s.Quobyte != nil},
		{"downwardAPI", s.DownwardAPI != nil}, {"fc", s.FC != nil}, {"flexVolume", s.FlexVolume != nil},
		{"configMap", s.ConfigMap != nil}, {"azureFile", s.AzureFile != nil}, {"vsphereVolume", s.VsphereVolume != nil},
		{"photonPersistentDisk", s.PhotonPersistentDisk != nil}, {"portworxVolume", s.PortworxVolume != nil},
		{"azureDisk", s.AzureDisk != nil}, {"storageos", s.StorageOS != nil}, {"projected", s.Projected != nil},
		{"scaleIO", s.ScaleIO != nil}, {"csi", s.CSI != nil}, {"ephemeral", s.Ephemeral != nil}, {"image", s.Image != nil},
	}
}

// validateVolumeSource requires exactly one source and checks the common
// ones in depth; the remaining (mostly retired in-tree) drivers are only
// counted.
func validateVolumeSource(s *corev1.VolumeSource, fldPath *field.Path, isPod bool) field.ErrorList {
	var errs field.ErrorList
	chosen := ""
	for _, src := range volumeSources(s) {
		switch {
		case !src.set:
		case chosen != "":
			errs = append(errs, field.Forbidden(fldPath.Child(src.name), "may not specify more than 1 volume type"))
		default:
			chosen = src.name
		}
	}
	if chosen == "" {
		return append(errs, field.Required(fldPath, "must specify a volume type"))
	}
	p := fldPath.Child(chosen)
	switch chosen {
	case "emptyDir":
		if s.EmptyDir.SizeLimit != nil && s.EmptyDir.SizeLimit.Sign() < 0 {
			errs = append(errs, field.Forbidden(p.Child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	case "hostPath":
		errs = append(errs, validateHostPath(s.HostPath, p)...)
	case "gitRepo":
		if s.GitRepo.Repository == "" {
			errs = append(errs, field.Required(p.Child("repository"), ""))
		}
		errs = append(errs, localDescendingPath(s.GitRepo.Directory, p.Child("directory"))...)
	case "secret":
		errs = append(errs, nonEmpty(s.Secret.SecretName, p.Child("secretName"))...)
		errs = append(errs, fileMode(s.Secret.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, keysToPaths(s.Secret.Items, p.Child("items"))...)
	case "configMap":
		errs = append(errs, nonEmpty(s.ConfigMap.Name, p.Child("name"))...)
		errs = append(errs, fileMode(s.ConfigMap.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, keysToPaths(s.ConfigMap.Items, p.Child("items"))...)
	case "persistentVolumeClaim":
		errs = append(errs, nonEmpty(s.PersistentVolumeClaim.ClaimName, p.Child("claimName"))...)
	case "nfs":
		errs = append(errs, nonEmpty(s.NFS.Server, p.Child("server"))...)
		errs = append(errs, nonEmpty(s.NFS.Path, p.Child("path"))...)
		if !path.IsAbs(s.NFS.Path) {
			errs = append(errs, field.Invalid(p.Child("path"), s.NFS.Path, "must be an absolute path"))
		}
	case "downwardAPI":
		errs = append(errs, fileMode(s.DownwardAPI.DefaultMode, p.Child("defaultMode"))...)
		for i := range s.DownwardAPI.Items {
			errs = append(errs, validateDownwardAPIFile(&s.DownwardAPI.Items[i], p.Child("items").Index(i))...)
		}
	case "projected":
		errs = append(errs, fileMode(s.Projected.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validateProjections(s.Projected.Sources, p.Child("sources"))...)
	case "csi":
		errs = append(errs, validateCSIDriverName(s.CSI.Driver, p.Child("driver"))...)
	case "ephemeral":
		errs = append(errs, validateEphemeralVolume(s.Ephemeral, p)...)
	case "image":
		if isPod && s.Image.Reference == "" {
			errs = append(errs, field.Required(p.Child("reference"), ""))
		}
		errs = append(errs, oneOf(s.Image.PullPolicy, supportedPullPolicies, p.Child("pullPolicy"))...)
	}
	return errs
}

func validateHostPath(h *corev1.HostPathVolumeSource, fldPath *field.Path) field.ErrorList {
	if h.Path == "" {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	errs := noBacksteps(h.Path, fldPath.Child("path"))
	if h.Type != nil && !sets.New(supportedHostPathTypes...).Has(*h.Type) {
		errs = append(errs, field.NotSupported(fldPath.Child("type"), *h.Type, supportedHostPathTypes))
	}
	return errs
}

// nonEmpty reports a missing mandatory value.
func nonEmpty(value string, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return nil
}

func fileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0o777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

func keysToPaths(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, item := range items {
		p := fldPath.Index(i)
		errs = append(errs, nonEmpty(item.Key, p.Child("key"))...)
		errs = append(errs, nonEmpty(item.Path, p.Child("path"))...)
		errs = append(errs, localNonReservedPath(item.Path, p.Child("path"))...)
		errs = append(errs, fileMode(item.Mode, p.Child("mode"))...)
	}
	return errs
}

func validateDownwardAPIFile(file *corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	errs := nonEmpty(file.Path, fldPath.Child("path"))
	errs = append(errs, localNonReservedPath(file.Path, fldPath.Child("path"))...)
	switch {
	case file.FieldRef != nil && file.ResourceFieldRef != nil:
		errs = append(errs, field.Invalid(fldPath, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
	case file.FieldRef != nil:
		errs = append(errs, validateFieldSelector(file.FieldRef, volumeFieldPaths, fldPath.Child("fieldRef"))...)
	case file.ResourceFieldRef != nil:
		errs = append(errs, validateResourceFieldSelector(file.ResourceFieldRef, true, fldPath.Child("resourceFieldRef"))...)
	default:
		errs = append(errs, field.Required(fldPath, "one of fieldRef and resourceFieldRef is required"))
	}
	return append(errs, fileMode(file.Mode, fldPath.Child("mode"))...)
}

const (
	minTokenExpirationSeconds = 10 * 60
	maxTokenExpirationSeconds = 1 << 32
)

// validateProjections checks the sources of a projected volume: one kind
// each, and no two files at the same path.
func validateProjections(sources []corev1.VolumeProjection, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	addPath := func(p string, at *field.Path) {
		if p == "" {
			return
		}
		if paths.Has(p) {
			errs = append(errs, field.Invalid(at, p, "conflicting duplicate paths"))
		}
		paths.Insert(p)
	}
	for i := range sources {
		src := &sources[i]
		p := fldPath.Index(i)
		kinds := []setField{{"secret", src.Secret != nil}, {"configMap", src.ConfigMap != nil}, {"downwardAPI", src.DownwardAPI != nil},
			{"serviceAccountToken", src.ServiceAccountToken != nil}, {"clusterTrustBundle", src.ClusterTrustBundle != nil},
			{"podCertificate", src.PodCertificate != nil}}
		count := 0
		for _, k := range kinds {
			if k.set {
				count++
			}
		}
		if count > 1 {
			errs = append(errs, field.Forbidden(p, "may not specify more than 1 volume type per source"))
		}
		if src.Secret != nil {
			errs = append(errs, nonEmpty(src.Secret.Name, p.Child("secret", "name"))...)
			errs = append(errs, keysToPaths(src.Secret.Items, p.Child("secret", "items"))...)
			for j, item := range src.Secret.Items {
				addPath(item.Path, p.Child("secret", "items").Index(j).Child("path"))
			}
		}
		if src.ConfigMap != nil {
			errs = append(errs, nonEmpty(src.ConfigMap.Name, p.Child("configMap", "name"))...)
			errs = append(errs, keysToPaths(src.ConfigMap.Items, p.Child("configMap", "items"))...)
			for j, item := range src.ConfigMap.Items {
				addPath(item.Path, p.Child("configMap", "items").Index(j).Child("path"))
			}
		}
		if src.DownwardAPI != nil {
			for j := range src.DownwardAPI.Items {
				itemPath := p.Child("downwardAPI", "items").Index(j)
				errs = append(errs, validateDownwardAPIFile(&src.DownwardAPI.Items[j], itemPath)...)
				addPath(src.DownwardAPI.Items[j].Path, itemPath.Child("path"))
			}
		}
		if tok := src.ServiceAccountToken; tok != nil {
			tp := p.Child("serviceAccountToken")
			if exp := tok.ExpirationSeconds; exp != nil && *exp < minTokenExpirationSeconds {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *exp, "may not specify a duration less than 10 minutes"))
			} else if exp != nil && *exp > maxTokenExpirationSeconds {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *exp, "may not specify a duration larger than 2^32 seconds"))
			}
			if tok.Path == "" {
				errs = append(errs, field.Required(tp.Child("path"), ""))
			} else {
				errs = append(errs, localNonReservedPath(tok.Path, tp.Child("path"))...)
			}
			addPath(tok.Path, tp.Child("path"))
		}
		if ctb := src.ClusterTrustBundle; ctb != nil {
			cp := p.Child("clusterTrustBundle")
			if ctb.Name == nil && ctb.SignerName == nil {
				errs = append(errs, field.Required(cp, "either name or signerName must be specified"))
			}
			errs = append(errs, nonEmpty(ctb.Path, cp.Child("path"))...)
			errs = append(errs, localNonReservedPath(ctb.Path, cp.Child("path"))...)
			addPath(ctb.Path, cp.Child("path"))
		}
	}
	return errs
}

func validateCSIDriverName(driver string, fldPath *field.Path) field.ErrorList {
	if driver == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var errs field.ErrorList
	if len(driver) > 63 {
		errs = append(errs, field.TooLong(fldPath, "", 63))
	}
	for _, msg := range nameIsDNSSubdomain(strings.ToLower(driver), false) {
		errs = append(errs, field.Invalid(fldPath, driver, msg))
	}
	return errs
}

// validateEphemeralVolume checks the claim template of a generic ephemeral
// volume: only labels and annotations in its metadata, access modes and a
// storage request in its spec.
func validateEphemeralVolume(e *corev1.EphemeralVolumeSource, fldPath *field.Path) field.ErrorList {
	tp := fldPath.Child("volumeClaimTemplate")
	if e.VolumeClaimTemplate == nil {
		return field.ErrorList{field.Required(tp, "")}
	}
	tmpl := e.VolumeClaimTemplate
	errs := templateMeta(&tmpl.ObjectMeta, tp.Child("metadata"))
	meta := tmpl.ObjectMeta.DeepCopy()
	meta.Labels, meta.Annotations = nil, nil
	if !meta.CreationTimestamp.IsZero() || meta.Name != "" || meta.GenerateName != "" || meta.Namespace != "" || len(meta.Finalizers) > 0 || len(meta.OwnerReferences) > 0 {
		errs = append(errs, field.Forbidden(tp.Child("metadata"), "only labels and annotations can be set"))
	}
	sp := tp.Child("spec")
	if len(tmpl.Spec.AccessModes) == 0 {
		errs = append(errs, field.Required(sp.Child("accessModes"), "at least 1 access mode is required"))
	}
	if _, ok := tmpl.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(sp.Child("resources").Key(string(corev1.ResourceStorage)), ""))
	}
	return errs
}

// localDescendingPath requires a relative path that does not climb out of
// its directory.
func localDescendingPath(p string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(p) {
		errs = append(errs, field.Invalid(fldPath, p, "must be a relative path"))
	}
	return append(errs, noBacksteps(p, fldPath)...)
}

func noBacksteps(p string, fldPath *field.Path) field.ErrorList {
	for _, part := range strings.Split(filepath.ToSlash(p), "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(fldPath, p, "must not contain '..'")}
		}
	}
	return nil
}

// localNonReservedPath is a local descending path that does not start with
// "..", which the kubelet reserves for its atomic writer.
func localNonReservedPath(p string, fldPath *field.Path) field.ErrorList {
	errs := localDescendingPath(p, fldPath)
	if strings.HasPrefix(p, "..") && !strings.HasPrefix(p, "../") {
		errs = append(errs, field.Invalid(fldPath, p, "must not start with '..'"))
	}
	return errs
}
