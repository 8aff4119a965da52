package apiserver

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

	goyaml "go.yaml.in/yaml/v2"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// patch serves PATCH: JSON patch, merge patch, strategic merge patch and
// server-side apply.
func (c *call) patch() {
	mediaType, err := bodyType(c.r)
	if err != nil {
		c.fail(apierrors.NewBadRequest(err.Error()))
		return
	}
	patchType := types.PatchType(mediaType)
	switch patchType {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType:
	default:
		c.fail(unsupportedMediaType(mediaType))
		return
	}
	data, err := c.readBody()
	if err != nil {
		c.fail(err)
		return
	}
	switch {
	case c.info.Subresource == "scale" && patchType != types.ApplyYAMLPatchType:
		c.patchScale(patchType, data)
		return
	case patchType == types.ApplyYAMLPatchType:
		c.apply(data)
		return
	}
	manager := c.fieldManager()
	updated, err := c.mutate(func(current runtime.Object) (runtime.Object, error) {
		var original bytes.Buffer
		if err := c.s.encode(c.s.decoders.json, current, &original); err != nil {
			return nil, err
		}
		patched, err := applyPatch(patchType, original.Bytes(), data, c.kind.New())
		if err != nil {
			return nil, err
		}
		obj, err := c.decodeInto(patched, mediaJSON, c.kind.GVK, c.kind.New())
		if err != nil {
			return nil, err
		}
		if a, err := meta.Accessor(obj); err == nil && (a.GetName() != c.info.Name || (a.GetNamespace() != "" && a.GetNamespace() != c.info.Namespace)) {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s/%s) does not match the name on the URL (%s/%s)", a.GetNamespace(), a.GetName(), c.info.Namespace, c.info.Name))
		}
		return c.trackFields(current, obj, manager)
	})
	if err != nil {
		c.fail(err)
		return
	}
	c.respond(http.StatusOK, updated)
}

// applyPatch applies a non-apply patch to a JSON document. The patch
// libraries panic on some malformed patches (a JSON patch "replace" without
// a value, for one); that is the client's error, answered with 400.
func applyPatch(patchType types.PatchType, original, patch []byte, schema runtime.Object) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, apierrors.NewBadRequest(fmt.Sprintf("the patch could not be applied: malformed %s patch (%v)", patchType, r))
		}
	}()
	switch patchType {
	case types.JSONPatchType:
		var p jsonpatch.Patch
		if p, err = jsonpatch.DecodePatch(patch); err == nil {
			out, err = p.Apply(original)
		}
	case types.MergePatchType:
		out, err = jsonpatch.MergePatch(original, patch)
	case types.StrategicMergePatchType:
		out, err = strategicpatch.StrategicMergePatch(original, patch, schema)
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the patch could not be applied: %v", err))
	}
	return out, nil
}

// apply serves server-side apply: the field manager merges the applied
// configuration into the live object, creating it if it does not exist.
func (c *call) apply(data []byte) {
	manager := c.query.Get("fieldManager")
	if manager == "" {
		c.fail(applyOptionsError())
		return
	}
	force := isTrue(c.query.Get("force"))
	jsonData, err := c.appliedJSON(data)
	if err != nil {
		c.fail(err)
		return
	}
	applied := &unstructured.Unstructured{}
	if err := applied.UnmarshalJSON(jsonData); err != nil {
		c.fail(apierrors.NewBadRequest(fmt.Sprintf("the applied configuration is not a valid object: %v", err)))
		return
	}
	if gvk := applied.GroupVersionKind(); gvk != c.kind.GVK {
		c.fail(apierrors.NewBadRequest(fmt.Sprintf("the applied configuration is %s, not %s", gvk, c.kind.GVK)))
		return
	}
	if applied.GetName() == "" {
		applied.SetName(c.info.Name)
	}
	if c.kind.Namespaced && applied.GetNamespace() == "" {
		applied.SetNamespace(c.info.Namespace)
	}
	if c.kind.Namespaced && applied.GetNamespace() != c.info.Namespace {
		c.fail(apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	if applied.GetName() != c.info.Name {
		c.fail(apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", applied.GetName(), c.info.Name)))
		return
	}
	if err := c.s.managers.CheckApplied(c.kind, applied); err != nil {
		c.fail(err)
		return
	}
	if err := c.decodeApplied(applied, jsonData); err != nil {
		c.fail(err)
		return
	}
	fm, err := c.s.managers.For(c.kind, statusOnly(c.info.Subresource))
	if err != nil {
		c.fail(err)
		return
	}
	obj, code, err := c.applyTo(fm, applied, manager, force)
	if err != nil {
		c.fail(err)
		return
	}
	c.respond(code, obj)
}

// appliedJSON converts an applied configuration (YAML or JSON) to JSON.
// A key given twice in one map is handled as fieldValidation asks (Strict:
// 400; Warn, the default: a warning; Ignore: the last one wins), as
// kube-apiserver does.
func (c *call) appliedJSON(data []byte) ([]byte, error) {
	if plainJSON(data) {
		return data, nil
	}
	out, strictErr := yaml.YAMLToJSONStrict(data)
	if strictErr == nil {
		return out, nil
	}
	out, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	if err := c.fieldValidation(runtime.NewStrictDecodingError(duplicateKeys(strictErr))); err != nil {
		return nil, err
	}
	return out, nil
}

// duplicateKeys lists the YAML parser's complaints, one per duplicate key
// ("line 5: key \"data\" already set in map").
func duplicateKeys(err error) []error {
	var typeErr *goyaml.TypeError
	if !errors.As(err, &typeErr) || len(typeErr.Errors) == 0 {
		return []error{err}
	}
	out := make([]error, len(typeErr.Errors))
	for i, e := range typeErr.Errors {
		out[i] = errors.New(e)
	}
	return out
}

// decodeApplied decodes the applied configuration as an object of the
// kind. That finds what a schema cannot: the fields berth's own kinds (no
// schema) do not declare, values their types refuse (a quantity, a
// duration). Either is refused with 400 whatever fieldValidation says, as
// kube-apiserver refuses an applied field its schema does not declare:
// nothing of it is stored, not even in managedFields.
func (c *call) decodeApplied(applied runtime.Object, jsonData []byte) error {
	gvk := c.kind.GVK
	if _, _, err := c.s.decoders.json.Decode(jsonData, &gvk, c.kind.New()); err != nil {
		if !runtime.IsStrictDecodingError(err) {
			err = withValuePath(err, jsonData, c.kind.New())
		}
		return appliedError(applied, err)
	}
	return nil
}

// statusAsError turns a storage error into the API error it stands for.
func statusAsError(err error, c *call) error {
	if err == nil {
		return nil
	}
	return &apierrors.StatusError{ErrStatus: *statusFor(err, c.kind.GroupResource(), c.info.Name)}
}
