package agent

import (
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

func TestKubeletRateLimitFillsOnlyAnUnsetLimit(t *testing.T) {
	limiter := flowcontrol.NewFakeAlwaysRateLimiter()
	for _, tc := range []struct {
		name       string
		in         rest.Config
		qps        float32
		burst      int
		ownLimiter bool
	}{
		{name: "unset: the kubelet's", qps: kubeletQPS, burst: kubeletBurst},
		{name: "set QPS kept", in: rest.Config{QPS: 7, Burst: 9}, qps: 7, burst: 9},
		{name: "unlimited (-1) kept", in: rest.Config{QPS: -1}, qps: -1},
		{name: "own rate limiter kept", in: rest.Config{RateLimiter: limiter}, ownLimiter: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			got := withKubeletRateLimit(&in)
			if got.QPS != tc.qps || got.Burst != tc.burst || (got.RateLimiter != nil) != tc.ownLimiter {
				t.Errorf("QPS %v burst %d limiter %v; want %v %d %v", got.QPS, got.Burst, got.RateLimiter, tc.qps, tc.burst, tc.ownLimiter)
			}
			if in.QPS != tc.in.QPS || in.Burst != tc.in.Burst {
				t.Errorf("the caller's config changed: %+v", in)
			}
		})
	}
}
