// Command measure computes the launch measurements that confidential-VM
// hardware (AMD SEV, SEV-ES, SEV-SNP; Intel TDX) reports for a given
// firmware, so that a tenant can check what a provider runs.
package main

import "os"

func main() {
	forward(os.Args[1:])
	hugeReads = true
	os.Exit(exitCode(run(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}
