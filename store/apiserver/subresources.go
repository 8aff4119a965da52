package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// toScale is the autoscaling/v1 Scale view of a Deployment or ReplicaSet.
func toScale(obj runtime.Object) (*autoscalingv1.Scale, error) {
	var (
		om       metav1.ObjectMeta
		want     *int32
		have     int32
		selector *metav1.LabelSelector
	)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		om, want, have, selector = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas, o.Spec.Selector
	case *appsv1.ReplicaSet:
		om, want, have, selector = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas, o.Spec.Selector
	default:
		return nil, fmt.Errorf("%T has no scale subresource", obj)
	}
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return nil, err
	}
	scale := &autoscalingv1.Scale{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{Name: om.Name, Namespace: om.Namespace, UID: om.UID, ResourceVersion: om.ResourceVersion, CreationTimestamp: om.CreationTimestamp},
		Status:     autoscalingv1.ScaleStatus{Replicas: have, Selector: sel.String()},
	}
	if want != nil {
		scale.Spec.Replicas = *want
	}
	return scale, nil
}

func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	}
}

// updateScale serves PUT (patch == nil) and PATCH of the scale subresource.
func (c *call) updateScale(patch func(current *autoscalingv1.Scale) (*autoscalingv1.Scale, error)) {
	if patch == nil {
		obj, err := c.decodeBody(&autoscalingv1.Scale{})
		if err != nil {
			c.fail(err)
			return
		}
		body := obj.(*autoscalingv1.Scale)
		if body.Name != c.info.Name {
			c.fail(apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", body.Name, c.info.Name)))
			return
		}
		patch = func(*autoscalingv1.Scale) (*autoscalingv1.Scale, error) { return body, nil }
	}
	manager := c.fieldManager()
	updated, err := c.mutate(func(current runtime.Object) (runtime.Object, error) {
		scale, err := toScale(current)
		if err != nil {
			return nil, err
		}
		next, err := patch(scale)
		if err != nil {
			return nil, err
		}
		if next.ResourceVersion != "" && next.ResourceVersion != scale.ResourceVersion {
			return nil, apierrors.NewConflict(c.kind.GroupResource(), c.info.Name, fmt.Errorf("%s", objectModified))
		}
		if next.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(schema.GroupKind{Group: "autoscaling", Kind: "Scale"}, c.info.Name, field.ErrorList{
				field.Invalid(field.NewPath("spec", "replicas"), next.Spec.Replicas, "must be greater than or equal to 0")})
		}
		obj := current.DeepCopyObject()
		setReplicas(obj, next.Spec.Replicas)
		return c.trackFields(current, obj, manager)
	})
	if err != nil {
		c.fail(err)
		return
	}
	scale, err := toScale(updated)
	if err != nil {
		c.fail(err)
		return
	}
	c.respond(http.StatusOK, scale)
}

// patchScale applies a JSON, merge or strategic patch to the Scale view.
func (c *call) patchScale(patchType types.PatchType, data []byte) {
	c.updateScale(func(current *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
		original, err := json.Marshal(current)
		if err != nil {
			return nil, err
		}
		var patched []byte
		switch patchType {
		case types.JSONPatchType:
			p, err := jsonpatch.DecodePatch(data)
			if err != nil {
				return nil, apierrors.NewBadRequest(err.Error())
			}
			patched, err = p.Apply(original)
			if err != nil {
				return nil, apierrors.NewBadRequest(err.Error())
			}
		default:
			patched, err = jsonpatch.MergePatch(original, data)
			if err != nil {
				return nil, apierrors.NewBadRequest(err.Error())
			}
		}
		out := &autoscalingv1.Scale{}
		if err := json.Unmarshal(patched, out); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	})
}

// virtual answers a create of a kind that is never stored (reviews).
func (c *call) virtual() {
	fn, ok := c.s.cfg.Virtual[c.kind.GVR()]
	if !ok {
		c.fail(methodNotAllowed("create", c.kind.GroupResource()))
		return
	}
	obj, err := c.decodeBody(c.kind.New())
	if err != nil {
		c.fail(err)
		return
	}
	out, err := fn(c.ctx, c.user, obj)
	if err != nil {
		c.fail(err)
		return
	}
	c.s.writeObject(c.w, c.out, http.StatusCreated, out)
}
