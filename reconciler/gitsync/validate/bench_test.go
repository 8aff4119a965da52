package validate

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/berth-io/berth/reconciler/gitsync/manifest"
)

// appTemplate is one app of the generated repository: ten objects in two
// files, the shapes a real repository holds.
const appTemplate = `apiVersion: v1
kind: Namespace
metadata:
  name: app-%[1]d
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app-%[1]d
  labels:
    app.kubernetes.io/name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: web
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
    spec:
      serviceAccountName: web
      containers:
      - name: web
        image: registry.example.com/web:v%[1]d
        ports:
        - name: http
          containerPort: 8080
        env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: LEVEL
          valueFrom:
            configMapKeyRef:
              name: web-config
              key: LEVEL
        envFrom:
        - secretRef:
            name: web-secret
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
          limits:
            memory: 128Mi
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app-%[1]d
spec:
  selector:
    app.kubernetes.io/name: web
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: app-%[1]d
data:
  LEVEL: info
  config.yaml: |
    listen: :8080
    upstreams: [a, b, c]
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
  namespace: app-%[1]d
stringData:
  TOKEN: not-a-secret
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  namespace: app-%[1]d
`

const jobsTemplate = `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: app-%[1]d
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: registry.example.com/migrate:v%[1]d
        args: [--to, latest]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: migrate-config
  namespace: app-%[1]d
data:
  TARGET: latest
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: app-%[1]d
spec:
  replicas: 1
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
      - name: worker
        image: registry.example.com/worker:v%[1]d
---
apiVersion: v1
kind: Service
metadata:
  name: worker
  namespace: app-%[1]d
spec:
  selector: {app: worker}
  ports: [{port: 9090}]
`

// generatedRepo is a repository of apps*10 objects in apps*2 files.
func generatedRepo(apps int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := range apps {
		fsys[fmt.Sprintf("apps/app-%04d/app.yaml", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(appTemplate, i))}
		fsys[fmt.Sprintf("apps/app-%04d/jobs.yaml", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(jobsTemplate, i))}
	}
	return fsys
}

// onDisk writes files to a temporary directory and returns its fs.FS, as
// the command reads a checkout (fstest.MapFS scans every file to open a
// directory, which would dominate the figures).
func onDisk(b *testing.B, files fstest.MapFS) fs.FS {
	dir := b.TempDir()
	for name, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return os.DirFS(dir)
}

func TestGeneratedRepoIsValid(t *testing.T) {
	r := Repo(generatedRepo(3), ".", Options{})
	if len(r.Objects) != 30 || !r.Valid(true) {
		var b strings.Builder
		_ = Write(&b, r, FormatText, true)
		t.Fatalf("%d objects:\n%s", len(r.Objects), b.String())
	}
}

// BenchmarkValidate checks a repository of 10,000 objects (1,000 apps):
// rendering, strict decoding, defaulting, validation and cross-object
// checks, as `berth validate` does. objects/s is the figure to compare with
// kubeconform's ~7,500/s on 4 cores.
func BenchmarkValidate(b *testing.B) {
	fsys := onDisk(b, generatedRepo(1000))
	b.ReportAllocs()
	b.ResetTimer()
	objects := 0
	cpu := cpuTime(b)
	for b.Loop() {
		r := Repo(fsys, ".", Options{})
		if r.Errors() > 0 {
			b.Fatalf("%d errors, first %v", r.Errors(), r.Findings[0])
		}
		objects += len(r.Objects)
	}
	reportThroughput(b, objects, cpuTime(b)-cpu)
}

// reportThroughput reports objects/s of wall-clock time, and objects per
// CPU-second of the process: on a shared machine the second is the
// steadier figure (GOMAXPROCS times it bounds what idle cores would do).
func reportThroughput(b *testing.B, objects int, cpu time.Duration) {
	b.ReportMetric(float64(objects)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(objects)/cpu.Seconds(), "objects/cpu-s")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRender is the rendering alone (YAML parsing with positions).
func BenchmarkRender(b *testing.B) {
	fsys := onDisk(b, generatedRepo(1000))
	b.ReportAllocs()
	b.ResetTimer()
	objects := 0
	cpu := cpuTime(b)
	for b.Loop() {
		set, errs := manifest.Render(fsys, ".", manifest.Options{})
		if len(errs) > 0 {
			b.Fatal(errs[0])
		}
		objects += len(set.Objects)
	}
	reportThroughput(b, objects, cpuTime(b)-cpu)
}
