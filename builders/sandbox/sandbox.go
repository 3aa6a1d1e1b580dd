// Package sandbox builds the command that runs one build step in a pinned
// toolchain root, under bubblewrap (Debian's bubblewrap package, the sandbox
// Flatpak uses). What a step gets:
//
//   - a user namespace: the step runs as BuildUID:BuildGID, which maps to
//     one host id outside every allocation range (HostID when measure runs
//     as root, who first drops to it; the invoking user's own id otherwise);
//     no capabilities (empty bounding set), NoNewPrivs, and no further user
//     namespaces;
//   - every directory of the toolchain root bound read-only, every mount
//     nosuid (and nodev, but for the five device nodes below), a private
//     /tmp and /dev/shm, a new /proc;
//   - a /dev with only null, zero, full, random and urandom: no tty, no
//     ptmx, no pts;
//   - a new session with no controlling terminal (so TIOCSTI cannot reach
//     the caller's terminal);
//   - new PID, IPC, UTS and cgroup namespaces, a fixed hostname;
//   - a network namespace with no interface up when measure runs as root
//     (the namespace is made before the id drop, so the step cannot raise
//     its loopback); an unprivileged caller gets bubblewrap's own network
//     namespace, whose loopback is up but reaches nothing outside;
//   - no host path but the toolchain root (read-only), the step's work
//     tree at WorkMount and the read-only inputs it is given;
//   - death with its parent: bubblewrap kills the step when it, or measure,
//     dies, and the PID namespace takes every process of the step with it.
//
// It only assembles run.Cmd values; a run.Runner runs them. It does not make
// the toolchain root (see builders/toolchain) nor decide what a step does
// (see builders/engine).
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/measure-cc/measure/builders/run"
)

// Fixed conditions inside every sandbox.
const (
	Hostname = "measure-build"
	// BuildUID and BuildGID are the step's ids inside its user namespace.
	BuildUID = 1000
	BuildGID = 1000
	Umask    = "022"
	Path     = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// WorkMount is where the step's work tree is mounted, read-write; it is
	// also HOME.
	WorkMount = "/build"
	Locale    = "C.UTF-8"
)

// HostID is the host uid and gid a step runs as when measure runs as root:
// no user of the host, above systemd's container range (524288-1878982655)
// and below its dynamic-namespace ranges (2147352576 and up), so that no
// file of the host belongs to it.
const HostID = 1879048192

// Program is the sandbox program; Debian's bubblewrap package provides it.
const Program = "bwrap"

// Variation is what --check changes outside the sandbox between two builds,
// to show that none of it reaches the output. The zero value changes
// nothing.
type Variation struct {
	// Umask is the umask bubblewrap starts under; the step sets its own.
	// Empty leaves the caller's.
	Umask string
	// Env is added to the environment of the bubblewrap process; the
	// sandbox must not pass it on.
	Env []string
}

// Bind is a host path made visible inside the sandbox.
type Bind struct {
	// Host is the path on the host.
	Host string
	// Path is the absolute path inside.
	Path string
	// Writable binds read-write; the default is read-only.
	Writable bool
}

// Spec says where and how a step runs.
type Spec struct {
	// Root is the toolchain root on the host; each of its top-level
	// directories is bound read-only and each top-level symlink recreated.
	Root string
	// Work is the step's work tree on the host, bound read-write at
	// WorkMount. When measure runs as root it must belong to HostID.
	Work string
	// Binds are further host paths (inputs, such as source tarballs),
	// read-only unless Writable, mounted after the work tree.
	Binds []Bind
	// Dir is the working directory inside.
	Dir string
	// Env is added to the fixed environment inside (PATH, HOME, TZ, LANG,
	// LC_ALL, USER, LOGNAME); NAME=value, sorted on output.
	Env []string
	// Args is the program and its arguments inside; Args[0] is an absolute
	// path in the root.
	Args []string
	// Vary changes the conditions outside the sandbox (for --check).
	Vary Variation
	// Privileged says whether measure runs as root and so drops to HostID
	// itself; nil asks os.Geteuid(). Tests of the command line set it.
	Privileged *bool
}

// WorkRel returns p relative to WorkMount, and whether p lies under it.
func WorkRel(p string) (string, bool) {
	p = path.Clean("/" + p)
	if p == WorkMount {
		return ".", true
	}
	rel, ok := strings.CutPrefix(p, WorkMount+"/")
	if !ok {
		return "", false
	}
	return rel, true
}

// Environ returns the whole environment a step sees, sorted.
func (s *Spec) Environ() []string {
	env := []string{
		"PATH=" + Path,
		"HOME=" + WorkMount,
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

func (s *Spec) privileged() bool {
	if s.Privileged != nil {
		return *s.Privileged
	}
	return os.Geteuid() == 0
}

// skipTop are the root's top-level entries the sandbox provides itself.
var skipTop = map[string]bool{"dev": true, "proc": true, "sys": true, "tmp": true, "run": true, strings.TrimPrefix(WorkMount, "/"): true}

// devices are the only device nodes inside.
var devices = []string{"null", "zero", "full", "random", "urandom"}

// Command returns the command that runs Args inside the sandbox.
func (s *Spec) Command() (*run.Cmd, error) {
	if s.Root == "" || s.Work == "" || s.Dir == "" || len(s.Args) == 0 {
		return nil, fmt.Errorf("sandbox: Root %q, Work %q, Dir %q and Args %q must all be set", s.Root, s.Work, s.Dir, s.Args)
	}
	for _, p := range []string{s.Root, s.Work, s.Dir} {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("sandbox: path %q is not absolute", p)
		}
	}
	top, err := os.ReadDir(s.Root)
	if err != nil {
		return nil, fmt.Errorf("sandbox: toolchain root: %w", err)
	}
	args := []string{Program,
		"--unshare-user", "--disable-userns",
		"--uid", fmt.Sprint(BuildUID), "--gid", fmt.Sprint(BuildGID),
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--hostname", Hostname,
		"--die-with-parent", "--new-session",
		"--cap-drop", "ALL",
		"--clearenv",
	}
	attr := &syscall.SysProcAttr{Setsid: true}
	if s.privileged() {
		// Root makes the network namespace before it drops to HostID: the
		// step owns no capability over it and cannot bring its loopback up.
		attr.Cloneflags = syscall.CLONE_NEWNET
		attr.Credential = &syscall.Credential{Uid: HostID, Gid: HostID, Groups: []uint32{}}
	} else {
		args = append(args, "--unshare-net")
	}
	for _, kv := range s.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		args = append(args, "--setenv", k, v)
	}
	c := &run.Cmd{Attr: attr}
	fail := func(err error) (*run.Cmd, error) {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	for _, e := range top {
		name := e.Name()
		if skipTop[name] {
			continue
		}
		p := filepath.Join(s.Root, name)
		switch {
		case e.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fail(err)
			}
			args = append(args, "--symlink", target, "/"+name)
		case e.IsDir():
			args = append(args, "--ro-bind", p, "/"+name)
		}
		// Top-level files (rare) are left out.
	}
	args = append(args,
		"--proc", "/proc",
		"--tmpfs", "/dev",
	)
	for _, d := range devices {
		args = append(args, "--dev-bind", "/dev/"+d, "/dev/"+d)
	}
	args = append(args,
		"--symlink", "/proc/self/fd", "/dev/fd",
		"--symlink", "/proc/self/fd/0", "/dev/stdin",
		"--symlink", "/proc/self/fd/1", "/dev/stdout",
		"--symlink", "/proc/self/fd/2", "/dev/stderr",
		"--tmpfs", "/dev/shm",
		"--tmpfs", "/tmp",
	)
	if _, err := os.Stat(s.Work); err != nil {
		return fail(err)
	}
	args = append(args, "--bind", s.Work, WorkMount)
	for _, b := range s.Binds {
		if !filepath.IsAbs(b.Host) || !path.IsAbs(b.Path) {
			return fail(fmt.Errorf("bind %q on %q: paths must be absolute", b.Host, b.Path))
		}
		flag := "--ro-bind"
		if b.Writable {
			flag = "--bind"
		}
		args = append(args, flag, b.Host, b.Path)
	}
	// The base of / is bubblewrap's own tmpfs: read-only once set up.
	args = append(args, "--remount-ro", "/", "--chdir", s.Dir, "--")
	args = append(args, s.Args...)
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	env = append(env, s.Vary.Env...)
	if s.Vary.Umask != "" {
		args = append([]string{"/bin/sh", "-c", "umask " + s.Vary.Umask + ` && exec "$@"`, "sh"}, args...)
	}
	c.Args, c.Env = args, env
	return c, nil
}

// Script returns the Args that run a bash script inside with -e and
// pipefail, under the fixed umask.
func Script(script string) []string {
	return []string{"/bin/bash", "-e", "-o", "pipefail", "-c", "umask " + Umask + "\n" + script}
}

// Shell returns the Args that run cmd (an interactive bash when empty)
// under the fixed umask.
func Shell(cmd []string) []string {
	if len(cmd) == 0 {
		cmd = []string{"/bin/bash", "-i"}
	}
	return append([]string{"/bin/sh", "-c", "umask " + Umask + ` && exec "$@"`, "sh"}, cmd...)
}

// Traversable makes dir, on the path from a private cache to what a step
// binds, passable by the sandbox: when measure runs as root, bubblewrap runs
// as HostID and must reach the bound paths, so dir becomes 0710 root:HostID
// (no other user of the host gets in); otherwise dir stays the user's, 0700.
func Traversable(dir string) error {
	if os.Geteuid() != 0 {
		return os.Chmod(dir, 0o700)
	}
	if err := os.Lchown(dir, 0, HostID); err != nil {
		return err
	}
	return os.Chmod(dir, 0o710)
}

// CheckPassable returns an error naming the first ancestor of dir (dir
// itself excluded) that the sandbox user cannot pass through. It checks
// nothing when measure does not run as root: the sandbox then runs as the
// user, who reached dir.
func CheckPassable(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		sys, _ := st.Sys().(*syscall.Stat_t)
		m := st.Mode().Perm()
		ok := m&0o001 != 0 || (sys != nil && sys.Gid == HostID && m&0o010 != 0) || (sys != nil && sys.Uid == HostID && m&0o100 != 0)
		if !ok {
			return fmt.Errorf("the sandbox user (uid %d) cannot pass %q (mode %04o) on the way to %q: choose a cache under directories others may pass, such as /var/cache/measure", HostID, p, m, abs)
		}
		if p == "/" {
			return nil
		}
	}
}

// Own gives path to the sandbox user (HostID when measure runs as root; the
// user's own files stay as they are otherwise), without following symlinks.
func Own(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return os.Lchown(path, HostID, HostID)
}

// ErrMissing reports a host program or facility a sandboxed build needs.
var ErrMissing = errors.New("missing on this host")

// Preflight checks that this host can run sandboxed steps: bubblewrap is
// installed, user namespaces are allowed, and (as root) HostID is nobody's.
// Its error names the Debian package or setting that fixes it.
func Preflight() error {
	var errs []error
	// Looked up in PATH, as the runner will.
	if _, err := exec.LookPath(Program); err != nil {
		errs = append(errs, fmt.Errorf("%w: %s (apt-get install bubblewrap)", ErrMissing, Program))
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		errs = append(errs, fmt.Errorf("%w: user namespaces (sysctl user.max_user_namespaces is 0)", ErrMissing))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
		errs = append(errs, fmt.Errorf("%w: unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone is 0)", ErrMissing))
	}
	if os.Geteuid() == 0 {
		if err := idFree("/etc/passwd", HostID); err != nil {
			errs = append(errs, err)
		}
		if err := idFree("/etc/group", HostID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// idFree returns an error when a line of the passwd or group file names id.
func idFree(file string, id int) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil // no such database: nobody owns the id
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[2] == fmt.Sprint(id) {
			return fmt.Errorf("sandbox id %d belongs to %q in %s; the build user must be nobody's", id, f[0], file)
		}
	}
	return nil
}
