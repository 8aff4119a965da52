package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestAgentCommandNeedsAKubeconfig(t *testing.T) {
	cmd := newRootCommand()
	cmd.SetArgs([]string{"agent", "--data-dir", t.TempDir()})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--kubeconfig or --credentials-dir is required") {
		t.Errorf("berth agent without --kubeconfig: %v (exit %d), want a usage error naming --kubeconfig", err, exitCode(err))
	}
}

func TestAgentHelpNamesItsFlags(t *testing.T) {
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetArgs([]string{"agent", "--help"})
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--kubeconfig", "--data-dir", "--node-name", "--node-ip", "--container-runtime-endpoint", "--cleanup", "--cluster-dns", "--tls-cert-file", "--credentials-dir"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("berth agent --help does not mention %s", flag)
		}
	}
}
