package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// Field validation directives (?fieldValidation=).
const (
	validationStrict = "Strict"
	validationWarn   = "Warn"
	validationIgnore = "Ignore"
)

// decoders reads request bodies. JSON and YAML are decoded strictly so
// that unknown and duplicate fields can be reported as the client asked.
type decoders struct {
	json, yaml *json.Serializer
	proto      *protobuf.Serializer
}

func newDecoders(scheme *runtime.Scheme) decoders {
	strict := func(yaml bool) *json.Serializer {
		return json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: yaml, Strict: true})
	}
	return decoders{json: strict(false), yaml: strict(true), proto: protobuf.NewSerializer(scheme, scheme)}
}

// decodeInto decodes a request body of the kind gvk into into. It applies
// the fieldValidation directive: Strict rejects unknown or duplicate fields
// with 400, Warn (the default) reports them as Warning headers, Ignore
// drops them.
func (c *call) decodeInto(data []byte, mediaType string, gvk schema.GroupVersionKind, into runtime.Object) (runtime.Object, error) {
	var dec runtime.Decoder
	switch mediaType {
	case mediaJSON:
		dec = c.s.decoders.json
	case mediaYAML:
		dec = c.s.decoders.yaml
	case mediaProtobuf:
		dec = c.s.decoders.proto
	default:
		return nil, unsupportedMediaType(mediaType)
	}
	obj, actual, err := dec.Decode(data, &gvk, into)
	if err != nil && !runtime.IsStrictDecodingError(err) {
		if mediaType != mediaProtobuf {
			err = withValuePath(err, data, into)
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request could not be decoded as %s %s: %v", gvk.GroupVersion(), gvk.Kind, err))
	}
	// Option kinds (DeleteOptions) are registered in every group version.
	sameVersion := actual != nil && (actual.GroupVersion() == gvk.GroupVersion() || gvk.Group == metav1.GroupName)
	if actual != nil && (actual.Kind != gvk.Kind || !sameVersion) {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s) or the kind (%s) does not match %s", actual.GroupVersion(), gvk.GroupVersion(), actual.Kind, gvk.Kind))
	}
	if err != nil {
		if herr := c.fieldValidation(err); herr != nil {
			return nil, herr
		}
	}
	return obj, nil
}

// fieldValidation handles a strict decoding error as the request asked.
func (c *call) fieldValidation(err error) error {
	directive := c.query.Get("fieldValidation")
	switch directive {
	case "", validationWarn:
		strictErr, _ := runtime.AsStrictDecodingError(err)
		if strictErr == nil {
			return nil
		}
		for _, e := range strictErr.Errors() {
			addWarning(c.w, e.Error())
		}
		return nil
	case validationIgnore:
		return nil
	case validationStrict:
		return apierrors.NewBadRequest(err.Error())
	}
	return apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of Strict, Warn or Ignore, not %q", directive))
}

// addWarning adds an RFC 7234 warning header, as kube-apiserver does.
func addWarning(w http.ResponseWriter, text string) {
	w.Header().Add("Warning", `299 - "`+strings.ReplaceAll(text, `"`, `\"`)+`"`)
}
