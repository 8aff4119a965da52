package runtime

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

func TestCheckHostNamesTheDebianPackages(t *testing.T) {
	missing := func(names ...string) func(string) bool {
		return func(s string) bool {
			for _, n := range names {
				if strings.HasSuffix(s, n) {
					return true
				}
			}
			return false
		}
	}
	for _, tc := range []struct {
		name     string
		gone     func(string) bool
		static   error
		want     []string
		wantNone []string
	}{
		{name: "all present", gone: missing()},
		{name: "containerd", gone: missing("containerd"), want: []string{"containerd not found in PATH", "apt-get install -y containerd"}, wantNone: []string{"runc"}},
		{name: "runc and iptables", gone: missing("runc", "iptables"), want: []string{"apt-get install -y runc iptables"}},
		{name: "CNI plugins", gone: missing("/bridge", "/portmap"), want: []string{"/usr/lib/cni/bridge missing", "/usr/lib/cni/portmap missing", "apt-get install -y containernetworking-plugins"}},
		{name: "busybox", gone: missing("/bin/busybox"), want: []string{"/bin/busybox missing", "busybox-static"}},
		{name: "dynamic busybox", gone: missing(), static: errors.New("/bin/busybox is dynamically linked"), want: []string{"dynamically linked", "apt-get install -y busybox-static"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Host{
				LookPath: func(f string) (string, error) {
					if tc.gone(f) {
						return "", errors.New("not found")
					}
					return "/usr/bin/" + f, nil
				},
				Stat: func(p string) (os.FileInfo, error) {
					if tc.gone(p) {
						return nil, fs.ErrNotExist
					}
					return nil, nil
				},
				Static: func(string) error { return tc.static },
			}
			err := h.Check()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check() = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, w := range tc.wantNone {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error names %q though it is present:\n%v", w, err)
				}
			}
		})
	}
}

func TestCheckHostOnThisMachine(t *testing.T) {
	// CI installs the packages (make deps): this machine must pass.
	if err := CheckHost(); err != nil {
		t.Fatal(err)
	}
}

func TestStaticExecutableTellsStaticFromDynamic(t *testing.T) {
	if err := staticExecutable(BusyboxPath); err != nil {
		t.Errorf("%s: %v", BusyboxPath, err)
	}
	if err := staticExecutable("/bin/ls"); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("/bin/ls (dynamically linked): %v", err)
	}
	if err := staticExecutable("/etc/hostname"); err == nil {
		t.Error("a text file counted as an executable")
	}
}
