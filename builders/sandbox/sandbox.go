// Package sandbox builds the command that runs one build step in a
// throw-away copy of a toolchain root: util-linux unshare gives the step new
// mount, PID, network, UTS and IPC namespaces; an overlay mount keeps the
// toolchain root read-only (writes go to a per-build upper directory); chroot
// enters it as a fixed unprivileged user, with a fixed hostname, umask 022,
// TZ=UTC, a fixed locale and an environment that holds nothing of the
// caller's. There is no network inside.
//
// It only assembles run.Cmd values; a run.Runner runs them. It does not
// create the toolchain root (see builders/toolchain) nor decide what the
// step does (see builders/firmware).
package sandbox

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/measure-cc/measure/builders/run"
)

// Fixed conditions inside every sandbox.
const (
	Hostname = "measure-build"
	UID      = 1000
	GID      = 1000
	Umask    = "022"
	Path     = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	Home     = "/build"
	Locale   = "C.UTF-8"
)

// Variation is what --check changes outside the sandbox between two builds,
// to show that none of it reaches the output. The zero value changes
// nothing.
type Variation struct {
	// Hostname is set in the step's UTS namespace before the sandbox sets its
	// own; empty leaves the host's.
	Hostname string
	// Umask is the umask under which the sandbox is set up (overlay
	// directories, mounts); empty leaves the caller's.
	Umask string
	// Env is added to the environment of the unshare process; the sandbox
	// must not pass it on.
	Env []string
}

// Spec says where and how a step runs.
type Spec struct {
	// Root is the toolchain root on the host, the overlay's read-only lower
	// directory.
	Root string
	// Work is a host directory private to this build; it holds upper/ (the
	// build's writes, which outlive the step), work/ (overlayfs's) and
	// merged/ (the mount point).
	Work string
	// Dir is the working directory inside the sandbox.
	Dir string
	// Env is added to the fixed environment inside (PATH, HOME, TZ, LANG,
	// LC_ALL, USER, LOGNAME); NAME=value, sorted on output.
	Env []string
	// Shell runs the script: /bin/sh when empty.
	Shell string
	// Vary changes the conditions outside the sandbox (for --check).
	Vary Variation
}

// UpperDir returns the directory that holds the build's writes on the host.
func (s *Spec) UpperDir() string { return filepath.Join(s.Work, "upper") }

// HostPath returns where path inside the sandbox lives in the upper
// directory on the host, once the step has written it.
func (s *Spec) HostPath(path string) string {
	return filepath.Join(s.UpperDir(), filepath.Clean("/"+path))
}

// Env returns the whole environment a step sees, sorted.
func (s *Spec) env() []string {
	env := []string{
		"PATH=" + Path,
		"HOME=" + Home,
		"TZ=UTC",
		"LANG=" + Locale,
		"LC_ALL=" + Locale,
		"USER=builder",
		"LOGNAME=builder",
	}
	env = append(env, s.Env...)
	sort.Strings(env)
	return env
}

// Command returns the command that runs script with Shell -e inside the
// sandbox, from Dir.
func (s *Spec) Command(script string) (*run.Cmd, error) {
	if s.Root == "" || s.Work == "" || s.Dir == "" {
		return nil, fmt.Errorf("sandbox: Root %q, Work %q and Dir %q must all be set", s.Root, s.Work, s.Dir)
	}
	for _, p := range []string{s.Root, s.Work, s.Dir} {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("sandbox: path %q is not absolute", p)
		}
	}
	shell := s.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	var setup []string
	if s.Vary.Umask != "" {
		setup = append(setup, "umask "+s.Vary.Umask)
	}
	if s.Vary.Hostname != "" {
		setup = append(setup, "echo "+run.Quote(s.Vary.Hostname)+" > /proc/sys/kernel/hostname")
	}
	setup = append(setup,
		// The mount namespace is private (unshare's default propagation), so
		// every mount below disappears with the step.
		"mkdir -p \"$W/upper\" \"$W/work\" \"$W/merged\"",
		"mount -t overlay overlay -o \"lowerdir=$R,upperdir=$W/upper,workdir=$W/work\" \"$W/merged\"",
		"mount -t proc -o nosuid,nodev,noexec proc \"$W/merged/proc\"",
		// A minimal /dev: the host's null, zero, full, random and urandom,
		// and a private /dev/shm for Python's multiprocessing.
		"mount -t tmpfs -o nosuid,mode=0755 dev \"$W/merged/dev\"",
		"for d in null zero full random urandom tty; do touch \"$W/merged/dev/$d\"; mount --bind \"/dev/$d\" \"$W/merged/dev/$d\"; done",
		"mkdir -p \"$W/merged/dev/shm\" \"$W/merged/dev/pts\"",
		"mount -t tmpfs -o nosuid,nodev,mode=1777 shm \"$W/merged/dev/shm\"",
		"ln -s /proc/self/fd \"$W/merged/dev/fd\"",
		"ln -s /proc/self/fd/0 \"$W/merged/dev/stdin\"",
		"ln -s /proc/self/fd/1 \"$W/merged/dev/stdout\"",
		"ln -s /proc/self/fd/2 \"$W/merged/dev/stderr\"",
		"echo "+Hostname+" > /proc/sys/kernel/hostname",
		"umask "+Umask,
		"exec chroot --userspec="+fmt.Sprintf("%d:%d", UID, GID)+" --groups="+fmt.Sprint(GID)+" \"$W/merged\" /usr/bin/env -i \"$@\" "+shell+" -e -c \"$S\"",
	)
	inner := "cd " + run.Quote(s.Dir) + "\n" + script
	args := []string{
		"unshare", "--mount", "--pid", "--net", "--uts", "--ipc", "--fork", "--kill-child",
		"--", "/usr/bin/env", "-i",
		"PATH=" + Path,
		"R=" + s.Root, "W=" + s.Work, "S=" + inner,
		"/bin/sh", "-e", "-c", strings.Join(setup, "\n"), "sandbox",
	}
	args = append(args, s.env()...)
	var env []string
	env = append(env, "PATH="+Path)
	env = append(env, s.Vary.Env...)
	return &run.Cmd{Args: args, Env: env}, nil
}
