package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/reconciler/gitsync/validate"
)

func newValidateCommand() *cobra.Command {
	var (
		output     string
		strict     bool
		noPolicies bool
		namespace  string
	)
	cmd := &cobra.Command{
		Use:   "validate [PATH...]",
		Short: "check a repository's manifests offline, as the API server and the git sync would",
		Long: `validate checks manifests with no cluster: every YAML/JSON file below each PATH
(a directory or a file; default "."), kustomizations built with kustomize, and the
RBAC files of the policies/ folder. It reports unknown fields, duplicate keys and
wrong types with file:line:column, the API server's own validation errors, policy
errors, and cross-object problems (duplicates, a Service that selects no pod,
references to namespaces, ConfigMaps, Secrets or ServiceAccounts not in the
repository; these are warnings unless --strict).

Exit status: 0 valid, 1 invalid, 2 usage or I/O error.`,
		Example: `  berth validate                       # the repository in the current directory
  berth validate -o github .            # annotations for a GitHub Actions pull request
  berth validate -o junit apps > report.xml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			format := validate.Format(output)
			if !slices.Contains(validate.Formats, format) {
				return usageError{fmt.Errorf("--output %q: use one of text, json, junit, github", output)}
			}
			if len(args) == 0 {
				args = []string{"."}
			}
			var sources []validate.Source
			for _, arg := range args {
				src, err := validateSource(arg)
				if err != nil {
					return usageError{err}
				}
				sources = append(sources, src)
			}
			if os.Getenv("GOGC") == "" {
				// A short-lived batch that allocates much and keeps
				// little: collect less often (about 15% faster).
				debug.SetGCPercent(400)
			}
			report := validate.Check(sources, validate.Options{NoPolicies: noPolicies, DefaultNamespace: namespace})
			if err := validate.Write(cmd.OutOrStdout(), report, format, strict); err != nil {
				return usageError{fmt.Errorf("writing the report: %w", err)}
			}
			if !report.Valid(strict) {
				return errInvalid
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", string(validate.FormatText), "output format: text, json, junit or github (workflow annotations)")
	f.BoolVar(&strict, "strict", false, "count warnings (missing namespaces, ConfigMaps, Secrets; Services selecting nothing) as errors")
	f.BoolVar(&noPolicies, "no-policies", false, "do not read the policies/ folder (neither as manifests nor as RBAC policy)")
	f.StringVarP(&namespace, "namespace", "n", "default", "namespace of namespaced objects that do not set metadata.namespace")
	return cmd
}

// errInvalid is validate's exit 1: the findings were already printed.
var errInvalid = errors.New("validation failed")

// validateSource is the validate.Source of a PATH argument: a directory,
// or a file read from its directory. File paths in the report start with
// the argument as written (none for ".").
func validateSource(arg string) (validate.Source, error) {
	info, err := os.Stat(arg)
	if err != nil {
		return validate.Source{}, err
	}
	dir, root := arg, "."
	if !info.IsDir() {
		dir, root = filepath.Dir(arg), filepath.Base(arg)
	}
	name := filepath.ToSlash(filepath.Clean(dir))
	if name == "." {
		name = ""
	}
	return validate.Source{FS: os.DirFS(dir), Root: root, Name: name}, nil
}
