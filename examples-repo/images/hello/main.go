// Command hello is berth's demo web server: it answers every request with
// "hello from <POD_NAME> (version <VERSION>)", serves /healthz for probes and
// stops cleanly on SIGTERM. Build it into an image with
//
//	berth images build examples-repo/images/hello -t demo/hello:v1
//
// Environment:
//
//	POD_NAME      the pod's name (set by the downward API; default: the hostname)
//	VERSION       the version it reports (default "dev")
//	PORT          the port to listen on (default 8080)
//	UNHEALTHY     if set to anything but "" or "false", /healthz answers 500
//	UNHEALTHY_FILE  if this file exists, /healthz answers 500 (default /tmp/unhealthy)
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	version := envOr("VERSION", "dev")
	addr := ":" + envOr("PORT", "8080")
	unhealthyFile := envOr("UNHEALTHY_FILE", "/tmp/unhealthy")

	srv := &http.Server{Addr: addr, Handler: logRequests(newHandler(name, version, unhealthyFile)), ReadHeaderTimeout: 10 * time.Second}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-stop
		if sig == syscall.SIGTERM {
			log.Print("got SIGTERM, shutting down")
		} else {
			log.Printf("got %v, shutting down", sig)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()

	log.Printf("hello %s (version %s) listening on %s", name, version, addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Print("bye")
}

// newHandler answers / with the greeting and /healthz with ok, or 500 while
// the service is made unhealthy (see unhealthy).
func newHandler(name, version, unhealthyFile string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if reason := unhealthy(unhealthyFile); reason != "" {
			http.Error(w, "unhealthy: "+reason, http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s (version %s)\n", name, version)
	})
	return mux
}

// unhealthy says why /healthz should fail, or "" when it should pass.
func unhealthy(file string) string {
	if v := os.Getenv("UNHEALTHY"); v != "" && v != "false" {
		return "UNHEALTHY=" + v
	}
	if _, err := os.Stat(file); err == nil {
		return file + " exists"
	}
	return ""
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		log.Printf("%s %s from %s in %s", r.Method, r.URL.Path, r.RemoteAddr, time.Since(start).Round(time.Microsecond))
	})
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
