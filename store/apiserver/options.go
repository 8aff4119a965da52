package apiserver

import (
	"fmt"
	"net/url"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The option kinds whose query parameters are validated, as kube-apiserver
// names them in 422 responses.
var (
	listOptionsKind   = schema.GroupKind{Group: metav1.GroupName, Kind: "ListOptions"}
	createOptionsKind = schema.GroupKind{Group: metav1.GroupName, Kind: "CreateOptions"}
	patchOptionsKind  = schema.GroupKind{Group: metav1.GroupName, Kind: "PatchOptions"}
	deleteOptionsKind = schema.GroupKind{Group: metav1.GroupName, Kind: "DeleteOptions"}
)

// checkOptions validates the query parameters of verb the way
// kube-apiserver's option validation does: a malformed number is a 400,
// a value outside the allowed set a 422 naming the parameter.
func checkOptions(verb string, q url.Values) error {
	if err := checkNumbers(q, "limit", "timeoutSeconds", "gracePeriodSeconds"); err != nil {
		return err
	}
	var errs field.ErrorList
	kind := listOptionsKind
	switch verb {
	case "list", "watch", "deletecollection":
		errs = append(errs, checkResourceVersionMatch(q)...)
	}
	switch verb {
	case "create":
		kind = createOptionsKind
	case "update", "patch":
		kind = patchOptionsKind
	case "delete", "deletecollection":
		kind = deleteOptionsKind
		if p := q.Get("propagationPolicy"); p != "" {
			switch metav1.DeletionPropagation(p) {
			case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
			default:
				errs = append(errs, field.NotSupported(field.NewPath("propagationPolicy"), p, []string{"Foreground", "Background", "Orphan"}))
			}
		}
	}
	for _, v := range q["dryRun"] {
		if v != metav1.DryRunAll {
			errs = append(errs, field.NotSupported(field.NewPath("dryRun"), q["dryRun"], []string{metav1.DryRunAll}))
			break
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(kind, "", errs)
	}
	return nil
}

func checkNumbers(q url.Values, names ...string) error {
	for _, name := range names {
		if v := q.Get(name); v != "" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return apierrors.NewBadRequest(fmt.Sprintf("%s must be an integer, not %q", name, v))
			}
		}
	}
	return nil
}

func checkResourceVersionMatch(q url.Values) field.ErrorList {
	match := q.Get("resourceVersionMatch")
	if match == "" {
		return nil
	}
	path := field.NewPath("resourceVersionMatch")
	switch metav1.ResourceVersionMatch(match) {
	case metav1.ResourceVersionMatchNotOlderThan, metav1.ResourceVersionMatchExact:
	default:
		return field.ErrorList{field.NotSupported(path, match, []string{string(metav1.ResourceVersionMatchExact), string(metav1.ResourceVersionMatchNotOlderThan)})}
	}
	rv := q.Get("resourceVersion")
	if rv == "" {
		return field.ErrorList{field.Forbidden(path, "resourceVersionMatch is forbidden unless resourceVersion is provided")}
	}
	if match == string(metav1.ResourceVersionMatchExact) && rv == "0" {
		return field.ErrorList{field.Forbidden(path, "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")}
	}
	return nil
}

// applyOptionsError is kube's answer to an apply without a field manager.
func applyOptionsError() error {
	return apierrors.NewInvalid(patchOptionsKind, "", field.ErrorList{field.Required(field.NewPath("fieldManager"), "is required for apply requests")})
}
