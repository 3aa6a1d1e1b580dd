//go:build linux

// Command measure-init is the init program of measure's minimal guest
// initramfs. It prints one marker line to the console, so that a boot test
// can see the guest reached user space, and powers the machine off.
//
// It is built by builders/initramfs with -trimpath, CGO_ENABLED=0,
// -buildvcs=false and an empty build id, so its bytes depend only on its
// source and the Go toolchain. It does nothing else: no mounts, no shell,
// no network.
package main

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Marker is the line a boot test looks for on the serial console.
const Marker = "measure-init: booted"

func main() {
	say(os.Stdout)
	syscall.Sync()
	// Give the serial console time to drain before the machine goes away.
	time.Sleep(200 * time.Millisecond)
	if err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Fprintf(os.Stderr, "measure-init: power off: %v\n", err)
	}
	// PID 1 must not exit: the kernel would panic. Wait to be killed.
	for {
		time.Sleep(time.Hour)
	}
}

// say writes the marker to w, and to /dev/console when w fails (the kernel
// gives init no file descriptors when it could not open a console).
func say(w io.Writer) {
	line := Marker + "\n"
	if _, err := io.WriteString(w, line); err == nil {
		return
	}
	if c, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		io.WriteString(c, line)
		c.Close()
	}
}
