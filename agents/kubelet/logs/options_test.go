package logs

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseOptionsRoundTrip(t *testing.T) {
	stdout := corev1.LogStreamStdout
	since := metav1.NewTime(t0)
	for _, o := range []*corev1.PodLogOptions{
		{},
		{Follow: true, Previous: true, Timestamps: true, TailLines: ptr(int64(0)), LimitBytes: ptr(int64(10))},
		{SinceSeconds: ptr(int64(30))},
		{SinceTime: &since, Stream: &stdout},
	} {
		got, errs := ParseOptions(Query(o))
		if len(errs) > 0 {
			t.Errorf("%+v: %v", o, errs)
			continue
		}
		if !reflect.DeepEqual(got, o) {
			t.Errorf("round trip of %+v gave %+v", o, got)
		}
	}
	got, errs := ParseOptions(url.Values{"container": {"app"}, "follow": {"1"}, "insecureSkipTLSVerifyBackend": {"true"}, "unknown": {"x"}})
	if len(errs) > 0 || got.Container != "app" || !got.Follow || !got.InsecureSkipTLSVerifyBackend {
		t.Errorf("got %+v %v", got, errs)
	}
}

func TestParseOptionsRejects(t *testing.T) {
	cases := []struct {
		query string
		want  string
	}{
		{"tailLines=-1", "tailLines: Invalid value: -1: must be greater than or equal to 0"},
		{"tailLines=x", "tailLines: Invalid value: \"x\": must be an integer"},
		{"limitBytes=0", "limitBytes: Invalid value: 0: must be greater than 0"},
		{"sinceSeconds=0", "sinceSeconds: Invalid value: 0: must be greater than 0"},
		{"sinceSeconds=5&sinceTime=2026-11-26T08:00:00Z", "at most one of `sinceTime` or `sinceSeconds`"},
		{"sinceTime=yesterday", "sinceTime: Invalid value: \"yesterday\": must be an RFC 3339 time"},
		{"follow=maybe", "follow: Invalid value: \"maybe\": must be true or false"},
		{"stream=Both", "stream: Unsupported value: \"Both\""},
		{"stream=Stderr&tailLines=3", "`tailLines` and specific `stream` are mutually exclusive"},
	}
	for _, c := range cases {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		_, errs := ParseOptions(q)
		if got := errs.ToAggregate(); got == nil || !strings.Contains(got.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.query, got, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
