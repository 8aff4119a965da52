package bench

import (
	"testing"

	"github.com/berth-io/berth/store/defaults"
	"github.com/berth-io/berth/store/validation"
)

func TestPodIsValidAndAboutOneAndAHalfKilobytes(t *testing.T) {
	for _, i := range []int{0, 7, 12345} {
		pod := Pod("bench-ns", "pod-0-1", i)
		if size := pod.Size(); size < 1300 || size > 1800 {
			t.Errorf("pod %d is %d bytes in protobuf, want about 1.5 KB", i, size)
		}
		defaults.Default(pod)
		if errs := validation.Validate(pod); len(errs) > 0 {
			t.Errorf("pod %d does not pass the server's validation: %v", i, errs.ToAggregate())
		}
	}
	if a, b := Pod("ns", "a", 1), Pod("ns", "a", 2); a.Annotations["berth.io/bench-index"] == b.Annotations["berth.io/bench-index"] {
		t.Error("pods built with different indexes are identical")
	}
}
