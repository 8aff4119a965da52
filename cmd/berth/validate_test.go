package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validateTestdata holds the fixture repositories of berth validate.
const validateTestdata = "../../reconciler/gitsync/validate/testdata"

func TestValidateExitCodes(t *testing.T) {
	empty := t.TempDir()
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string // a line the output must have
	}{
		{[]string{"validate", "../../examples-repo"}, 0, "valid: 9 objects in 6 files and 3 policy objects"},
		{[]string{"validate", "--strict", "../../examples-repo"}, 0, "valid:"},
		// Several paths are checked together; a file alone lacks what the
		// rest of its repository defines (warnings only).
		{[]string{"validate", validateTestdata + "/valid", "../../examples-repo/apps/hello/deployment.yaml"}, 0, "valid with 2 warnings: 9 objects in 6 files and 2 policy objects"},
		{[]string{"validate", empty}, 0, "valid: 0 objects in 0 files"},
		{[]string{"validate", validateTestdata + "/invalid"}, 1, "invalid: 23 errors, 10 warnings: 21 objects in 14 files"},
		{[]string{"validate", bad}, 1, bad + ":6: error: invalid YAML: did not find expected node content"},
		{[]string{"validate", validateTestdata + "/invalid/service-selects-nothing.yaml"}, 0, "valid with 1 warning: 1 object in 1 file"},
		{[]string{"validate", "--strict", validateTestdata + "/invalid/service-selects-nothing.yaml"}, 1, "invalid: 0 errors, 1 warning: 1 object in 1 file"},
		{[]string{"validate", "-o", "yaml", "."}, 2, ""},
		{[]string{"validate", "no/such/dir"}, 2, ""},
		{[]string{"validate", "--no-such-flag"}, 2, ""},
	} {
		res := runBerth(t, "", tc.args...)
		if res.code != tc.code {
			t.Errorf("berth %s: %s; want exit %d", strings.Join(tc.args, " "), res, tc.code)
			continue
		}
		if tc.out != "" && !strings.Contains(res.stdout, tc.out) {
			t.Errorf("berth %s: stdout has no line %q:\n%s", strings.Join(tc.args, " "), tc.out, res.stdout)
		}
		if tc.code == 2 && res.stderr == "" {
			t.Errorf("berth %s: exit 2 without saying why", strings.Join(tc.args, " "))
		}
	}
}

func TestValidateFormats(t *testing.T) {
	dir := validateTestdata + "/invalid"
	res := runBerth(t, "", "validate", "-o", "json", dir)
	var report struct {
		Valid    bool `json:"valid"`
		Errors   int  `json:"errors"`
		Findings []struct {
			File string `json:"file"`
			Line int    `json:"line"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &report); err != nil || res.code != 1 || report.Valid || report.Errors != 23 {
		t.Errorf("-o json: %v\n%s", err, res)
	}
	for _, f := range report.Findings {
		if !strings.HasPrefix(f.File, dir+"/") {
			t.Errorf("finding in %q: paths must start with the argument %q", f.File, dir)
		}
	}
	res = runBerth(t, "", "validate", "-o", "github", dir)
	if !strings.Contains(res.stdout, "::error file="+dir+"/unknown-field.yaml,line=6,col=3,title=berth validate%3A Deployment typo::spec.replica: unknown field") {
		t.Errorf("-o github:\n%s", res)
	}
	res = runBerth(t, "", "validate", "-o", "junit", dir)
	if !strings.HasPrefix(res.stdout, "<?xml") || !strings.Contains(res.stdout, `<testcase classname="`+dir+`/unknown-field.yaml" name="Deployment typo">`) {
		t.Errorf("-o junit:\n%s", res)
	}
}
