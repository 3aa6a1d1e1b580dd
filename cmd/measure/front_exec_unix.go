//go:build measure_front && unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// execFull replaces this process by measure-full with args: it returns
// only on failure.
func execFull(args []string) (int, error) {
	p, err := fullPath()
	if err != nil {
		return 0, err
	}
	argv := append([]string{os.Args[0]}, args...)
	if err := syscall.Exec(p, argv, append(os.Environ(), forwardedEnv+"=1")); err != nil {
		return 0, fmt.Errorf("starting %s: %w", p, err)
	}
	return 0, nil
}
