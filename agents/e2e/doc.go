// Package e2e holds end-to-end tests of the cluster network: real node
// agents (each with its own containerd, proxy, cluster DNS and pod routes),
// each running in a test host of its own (a network namespace on a shared
// switch), in front of a real control plane; real pods answer real traffic.
// The tests need root, containerd, runc, the CNI plugins and nftables.
package e2e
