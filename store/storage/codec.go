// Package storage keeps API objects in etcd: one key per object, the etcd
// mod revision as resourceVersion, compare-and-swap for every update.
package storage

import (
	"bytes"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// protobufPrefix starts every object that apimachinery's protobuf
// serializer wrote; anything else in etcd is JSON.
var protobufPrefix = []byte("k8s\x00")

// Codec turns objects into the bytes kept in etcd and back. Kinds with
// generated protobuf marshalers (every k8s.io/api type) are stored as
// protobuf, as kube-apiserver does; the rest (berth's own kinds) as JSON.
// resourceVersion is never stored: it is the key's mod revision.
type Codec struct {
	scheme *runtime.Scheme
	proto  *protobuf.Serializer
	json   *json.Serializer
	decode runtime.Decoder
}

// NewCodec returns a Codec for the kinds registered in scheme.
func NewCodec(scheme *runtime.Scheme) *Codec {
	return &Codec{
		scheme: scheme,
		proto:  protobuf.NewSerializer(scheme, scheme),
		json:   json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{}),
		decode: serializer.NewCodecFactory(scheme).UniversalDeserializer(),
	}
}

type protoMarshaler interface {
	Marshal() ([]byte, error)
}

// Encode returns the stored form of obj, without its resourceVersion.
func (c *Codec) Encode(obj runtime.Object) ([]byte, error) {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := accessor.GetResourceVersion()
	accessor.SetResourceVersion("")
	defer accessor.SetResourceVersion(rv)

	gvk, err := c.kindOf(obj)
	if err != nil {
		return nil, err
	}
	var enc runtime.Encoder = c.json
	if _, ok := obj.(protoMarshaler); ok {
		enc = c.proto
	}
	var buf bytes.Buffer
	versioned := runtime.WithVersionEncoder{Version: gvk.GroupVersion(), Encoder: enc, ObjectTyper: c.scheme}
	if err := versioned.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", gvk.Kind, err)
	}
	return buf.Bytes(), nil
}

// Decode reads a stored object and stamps it with resourceVersion rev.
func (c *Codec) Decode(data []byte, rev int64) (runtime.Object, error) {
	obj, _, err := c.decode.Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding stored object: %w", err)
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	accessor.SetResourceVersion(strconv.FormatInt(rev, 10))
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		gvk, err := c.kindOf(obj)
		if err != nil {
			return nil, err
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	return obj, nil
}

// IsProtobuf reports whether data was written by the protobuf serializer.
func IsProtobuf(data []byte) bool { return bytes.HasPrefix(data, protobufPrefix) }

func (c *Codec) kindOf(obj runtime.Object) (schema.GroupVersionKind, error) {
	if gvk := obj.GetObjectKind().GroupVersionKind(); !gvk.Empty() {
		return gvk, nil
	}
	gvks, _, err := c.scheme.ObjectKinds(obj)
	if err != nil {
		return schema.GroupVersionKind{}, err
	}
	return gvks[0], nil
}
