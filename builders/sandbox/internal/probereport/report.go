// Package probereport is what the sandbox tests' probe program reports from
// inside a step, shared by the probe and the tests that read it.
package probereport

// Report is what the probe found inside a step.
type Report struct {
	UID, GID, EUID int
	UIDMap         string
	CapBnd, CapEff string
	NoNewPrivs     string
	// Mounts lists each mount point with its options.
	Mounts map[string]string
	// WriteRoot is the error of creating a file in /usr (want read-only).
	WriteRoot string
	// WriteBase is the error of creating a file in / (want read-only).
	WriteBase string
	// WriteWork is the error of creating a file in the work tree (want none).
	WriteWork string
	// TTY is the error of opening /dev/tty.
	TTY string
	// TIOCSTI is the error of pushing a byte into fds 0-2's terminal, per fd.
	TIOCSTI []string
	// Sid and Pid: a new session makes the step's session not the caller's.
	Sid, Pid, Ppid int
	// Up lists the network interfaces that are up.
	Up []string
	// Interfaces lists every interface.
	Interfaces []string
	// Dial is the error of a TCP connection to the address given as
	// argument 2 (the host's loopback listener).
	Dial string
	// SetuidEUID is the euid the setuid-root copy of the probe reports.
	SetuidEUID string
	// Host is the error of stat on the host path given as argument 3.
	Host string
	// Procs counts the processes in /proc.
	Procs int
	// Devs lists /dev.
	Devs []string
	// Userns is the error of creating a nested user namespace.
	Userns string
}
