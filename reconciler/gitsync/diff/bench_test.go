package diff

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-io/berth/reconciler/gitsync/diff/difftest"
)

// benchApp is one app of the benchmark's repository: ten objects.
const benchApp = `apiVersion: v1
kind: Namespace
metadata:
  name: app-%[1]d
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app-%[1]d
spec:
  replicas: %[2]d
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:%[3]s
        ports:
        - containerPort: 8080
        resources:
          requests: {cpu: 100m, memory: 64Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app-%[1]d
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
`

const benchConfigMap = `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-%[2]d
  namespace: app-%[1]d
data:
  LEVEL: info
  INDEX: "%[2]d"
`

// writeBenchRepo writes apps apps (10 objects each) below dir/side; the
// head changes every 100th app (replicas and image), drops the last 10
// apps and adds 10 new ones.
func writeBenchRepo(t testing.TB, dir string, apps int) {
	for _, side := range []string{"base", "head"} {
		first, last := 0, apps
		if side == "head" {
			first, last = 10, apps+10
		}
		for i := first; i < last; i++ {
			replicas, image := 2, "v1"
			if side == "head" && i%100 == 50 {
				replicas, image = 3, "v2"
			}
			var b strings.Builder
			fmt.Fprintf(&b, benchApp, i, replicas, image)
			for c := range 7 {
				fmt.Fprintf(&b, benchConfigMap, i, c)
			}
			file := filepath.Join(dir, side, "apps", fmt.Sprintf("app-%04d.yaml", i))
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// BenchmarkCompareRevisions diffs two revisions of a repository of 1,000
// apps (10,000 objects): both rendered from git and validated, normalised
// and compared; 10 apps deleted, 10 changed, 10 added.
func BenchmarkCompareRevisions(b *testing.B) {
	const apps = 1000
	dir := b.TempDir()
	writeBenchRepo(b, dir, apps)
	repo := difftest.FixtureRepo(b, dir)
	b.ResetTimer()
	start := time.Now()
	var res *Result
	for b.Loop() {
		var err error
		res, err = Repo{Dir: repo, Base: "HEAD~1", Head: "HEAD"}.Compare(Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	if got := res.Count(Deleted); got != 100 {
		b.Fatalf("%d deleted, want 100", got)
	}
	if got := res.Count(Changed); got != 10 {
		b.Fatalf("%d changed, want 10", got)
	}
	b.ReportMetric(float64(2*apps*10*b.N)/elapsed.Seconds(), "objects/s")
}
