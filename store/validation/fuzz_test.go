package validation

import (
	"encoding/json"
	"testing"

	"github.com/berth-io/berth/store/defaults"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// fuzzKinds are the kinds whose decoding the fuzz targets exercise; the
// first byte of the input picks one.
var fuzzKinds = []func() runtime.Object{
	func() runtime.Object { return &corev1.Pod{} },
	func() runtime.Object { return &appsv1.Deployment{} },
	func() runtime.Object { return &batchv1.Job{} },
	func() runtime.Object { return &corev1.Service{} },
	func() runtime.Object { return &corev1.Secret{} },
}

// checkNoPanic runs every entry point on obj, raw and defaulted, against
// itself and against a known-good object of its kind.
func checkNoPanic(obj, good runtime.Object) {
	for _, v := range []Validator{{}, {Manifest: true}} {
		v.Validate(obj)
		v.ValidateUpdate(obj, obj)
		v.ValidateUpdate(obj, good)
		v.ValidateUpdate(good, obj)
		v.ValidateStatusUpdate(obj, good)
		v.ValidateStatusUpdate(good, obj)
	}
	defaulted := obj.DeepCopyObject()
	defaults.Default(defaulted)
	defaults.Default(defaulted)
	Validate(defaulted)
	ValidateUpdate(defaulted, obj)
	ValidateUpdate(defaulted, good)
}

func goodObject(obj runtime.Object) runtime.Object {
	switch obj.(type) {
	case *corev1.Pod:
		return validPod()
	case *appsv1.Deployment:
		return validDeployment()
	case *batchv1.Job:
		return validJob()
	case *corev1.Service:
		return validService()
	}
	return validSecret()
}

func FuzzValidate(f *testing.F) {
	for i, seed := range []runtime.Object{validPod(), validDeployment(), validJob(), validService(), validSecret()} {
		data, err := json.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{byte(i)}, data...))
	}
	f.Add([]byte("\x00{\"spec\":{\"containers\":[{\"ports\":[{\"containerPort\":-1}],\"resources\":{\"limits\":{\"hugepages-0\":\"1\"}}}],\"volumes\":[{}]}}"))
	f.Add([]byte("\x01{\"spec\":{\"strategy\":{\"rollingUpdate\":{\"maxSurge\":\"%\",\"maxUnavailable\":\"999999999999%\"}},\"selector\":{\"matchExpressions\":[{\"operator\":\"In\"}]}}}"))
	f.Add([]byte("\x02{\"spec\":{\"completionMode\":\"Indexed\",\"completions\":-5,\"parallelism\":7,\"selector\":{}}}"))
	f.Add([]byte("\x03{\"spec\":{\"clusterIPs\":[\"None\",\"x\",\"::1\"],\"ipFamilies\":[\"IPv6\",\"IPv6\"],\"sessionAffinity\":\"ClientIP\"}}"))
	f.Add([]byte("\x04{\"type\":\"kubernetes.io/dockerconfigjson\",\"stringData\":{\".dockerconfigjson\":\"[\"}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		obj := fuzzKinds[int(data[0])%len(fuzzKinds)]()
		if err := json.Unmarshal(data[1:], obj); err != nil {
			return
		}
		checkNoPanic(obj, goodObject(obj))
	})
}
