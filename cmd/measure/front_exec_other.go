//go:build measure_front && !unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// execFull runs measure-full with args and the standard streams, and
// returns its exit status.
func execFull(args []string) (int, error) {
	p, err := fullPath()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(p, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), forwardedEnv+"=1")
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("starting %s: %w", p, err)
	}
	return 0, nil
}
