package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/sandbox/internal/probereport"
)

// These tests run the real sandbox (bubblewrap) with a static probe program
// as the only program of a toolchain root, and check from inside a step what
// the package comment promises. They skip where bubblewrap is missing,
// except in CI, which installs it.

func requireSandbox(t *testing.T) {
	t.Helper()
	if err := Preflight(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must be able to run the sandbox: %v", err)
		}
		t.Skipf("no sandbox on this host: %v", err)
	}
}

// probeRoot builds the probe statically and returns a toolchain root holding
// it as /usr/bin/probe and, setuid root, as /usr/bin/suid.
func probeRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(private(t), "root")
	if err := os.Rename(testRootDir(t), root); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(root, "usr/bin/probe")
	var b []byte
	if pre := os.Getenv("SANDBOX_PROBE"); pre != "" {
		// A probe built beforehand, for runs of a compiled test binary
		// away from the source tree (as another user).
		var err error
		if b, err = os.ReadFile(pre); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(probe, b, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		cmd := exec.Command("go", "build", "-o", probe, "./internal/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the probe: %v\n%s", err, out)
		}
		var err error
		if b, err = os.ReadFile(probe); err != nil {
			t.Fatal(err)
		}
	}
	suid := filepath.Join(root, "usr/bin/suid")
	if err := os.WriteFile(suid, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, 0o755|os.ModeSetuid|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	return root
}

// workDir returns a work tree the step may write: 0700, the sandbox user's,
// in a directory only the sandbox may pass, as the engine's cache lays them.
func workDir(t *testing.T) string {
	t.Helper()
	w := filepath.Join(private(t), "work")
	if err := os.Mkdir(w, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Own(w); err != nil {
		t.Fatal(err)
	}
	return w
}

// private returns a new directory that the sandbox, and nobody else, may
// pass through, on a path the sandbox may pass.
func private(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	// t.TempDir's parent is 0700 too.
	for _, p := range []string{filepath.Dir(d), d} {
		if err := Traversable(p); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

type report = probereport.Report

func TestSandboxFromInside(t *testing.T) {
	requireSandbox(t)
	root := probeRoot(t)
	work := workDir(t)

	// A listener on the host's loopback that the step must not reach.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// A host secret outside the work tree.
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}

	s := &Spec{Root: root, Work: work, Dir: WorkMount, Args: []string{"/usr/bin/probe", "report", ln.Addr().String(), secret}}
	c, err := s.Command()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := (run.Exec{}).Run(context.Background(), c); err != nil {
		t.Fatalf("probe: %v\n%s", err, errb.String())
	}
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("probe output %q: %v", out.String(), err)
	}
	t.Logf("probe: %s", out.String())

	host := os.Getuid()
	if host == 0 {
		host = HostID
	}
	if r.UID != BuildUID || r.GID != BuildGID || r.EUID != BuildUID {
		t.Errorf("ids inside = %d/%d (euid %d), want %d/%d", r.UID, r.GID, r.EUID, BuildUID, BuildGID)
	}
	// bubblewrap nests a second user namespace (--disable-userns), whose
	// map names its parent's ids: one id, the build user's, is mapped. That
	// it is HostID on the host is checked below, from the owner of a file.
	if want := fmt.Sprintf("%d %d 1", BuildUID, BuildUID); r.UIDMap != want {
		t.Errorf("uid_map = %q, want %q: only the build user is mapped", r.UIDMap, want)
	}
	if r.CapBnd != "0000000000000000" || r.CapEff != "0000000000000000" {
		t.Errorf("capabilities: bounding set %s, effective %s, want none", r.CapBnd, r.CapEff)
	}
	if r.NoNewPrivs != "1" {
		t.Errorf("NoNewPrivs = %q, want 1", r.NoNewPrivs)
	}
	for mp, opts := range r.Mounts {
		o := strings.Split(opts, ",")
		if !slices.Contains(o, "nosuid") {
			t.Errorf("mount %s (%s) lacks nosuid", mp, opts)
		}
		if !slices.Contains(o, "nodev") && !slices.Contains(devices, strings.TrimPrefix(mp, "/dev/")) {
			t.Errorf("mount %s (%s) lacks nodev", mp, opts)
		}
	}
	for _, mp := range []string{"/", "/usr", "/etc"} {
		if o := r.Mounts[mp]; !slices.Contains(strings.Split(o, ","), "ro") {
			t.Errorf("mount %s (%q) is not read-only", mp, o)
		}
	}
	if !strings.Contains(r.WriteRoot, "read-only") || !strings.Contains(r.WriteBase, "read-only") {
		t.Errorf("writing the toolchain root: %q and %q, want read-only file system", r.WriteRoot, r.WriteBase)
	}
	if r.WriteWork != "" {
		t.Errorf("writing the work tree: %s", r.WriteWork)
	}
	if r.TTY == "" {
		t.Errorf("/dev/tty opened inside")
	}
	for fd, e := range r.TIOCSTI {
		if e == "" {
			t.Errorf("TIOCSTI on fd %d succeeded", fd)
		}
	}
	if os.Geteuid() == 0 {
		if len(r.Up) != 0 {
			t.Errorf("interfaces up: %q, want none", r.Up)
		}
	} else if len(r.Up) > 1 || (len(r.Up) == 1 && r.Up[0] != "lo") {
		t.Errorf("interfaces up: %q, want at most the namespace's own lo", r.Up)
	}
	if len(r.Interfaces) > 1 {
		t.Errorf("interfaces %q, want only lo", r.Interfaces)
	}
	if r.Dial == "" {
		t.Errorf("the step reached the host's loopback listener %s", ln.Addr())
	}
	if r.SetuidEUID != fmt.Sprint(BuildUID) {
		t.Errorf("a setuid-root program runs with euid %q, want %d", r.SetuidEUID, BuildUID)
	}
	if r.Host == "" {
		t.Errorf("the host path %s is visible inside", secret)
	}
	if r.Procs > 3 {
		t.Errorf("%d processes visible, want only the step's", r.Procs)
	}
	want := []string{"fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "urandom", "zero"}
	if !slices.Equal(r.Devs, want) {
		t.Errorf("/dev = %q, want %q", r.Devs, want)
	}
	if r.Userns == "" {
		t.Errorf("the step made a nested user namespace")
	}
	// The work tree's file belongs to the sandbox's host id.
	st, err := os.Stat(filepath.Join(work, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != host {
		t.Errorf("file written inside belongs to uid %d on the host, want %d", uid, host)
	}
}

// TestSandboxDiesWithParent: SIGKILL to the process that started the
// sandbox (as to measure) ends every process of the step within 5 s, even
// one that ignores SIGTERM.
func TestSandboxDiesWithParent(t *testing.T) {
	if os.Getenv("SANDBOX_TEST_PARENT") != "" {
		return
	}
	requireSandbox(t)
	root := probeRoot(t)
	work := workDir(t)
	token := fmt.Sprintf("token-%d", time.Now().UnixNano())
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperParent$", "-test.v")
	cmd.Env = append(os.Environ(), "SANDBOX_TEST_PARENT=1", "SANDBOX_ROOT="+root, "SANDBOX_WORK="+work, "SANDBOX_TOKEN="+token)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	started := false
	for sc.Scan() {
		if sc.Text() == "started" {
			started = true
			break
		}
	}
	if !started {
		cmd.Process.Kill()
		t.Fatal("the step did not start")
	}
	// Wait until the step's child runs too.
	deadline := time.Now().Add(5 * time.Second)
	for len(withToken(token)) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(withToken(token)); n < 2 {
		t.Fatalf("%d processes of the step run, want the step and its child", n)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t0 := time.Now()
	for {
		left := withToken(token)
		if len(left) == 0 {
			t.Logf("every process of the step gone %s after the parent's SIGKILL", time.Since(t0).Round(time.Millisecond))
			return
		}
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("processes %v of the step still run 5 s after the parent died", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHelperParent is the parent TestSandboxDiesWithParent kills: it starts
// a step that hangs, and hangs itself.
func TestHelperParent(t *testing.T) {
	if os.Getenv("SANDBOX_TEST_PARENT") == "" {
		t.Skip("helper of TestSandboxDiesWithParent")
	}
	s := &Spec{Root: os.Getenv("SANDBOX_ROOT"), Work: os.Getenv("SANDBOX_WORK"), Dir: WorkMount,
		Args: []string{"/usr/bin/probe", "hang", os.Getenv("SANDBOX_TOKEN")}}
	c, err := s.Command()
	if err != nil {
		t.Fatal(err)
	}
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	t.Fatal((run.Exec{}).Run(context.Background(), c))
}

// withToken returns the pids whose command line holds token.
func withToken(token string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(token)) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// TestSandboxNoTerminal: started from a process whose controlling terminal
// is a pty (as measure started from a shell), with that pty as the step's
// stdin, the step can neither open /dev/tty nor push input into the
// terminal with TIOCSTI, although the parent itself can.
func TestSandboxNoTerminal(t *testing.T) {
	if os.Getenv("SANDBOX_TEST_PARENT") != "" {
		return
	}
	requireSandbox(t)
	root := probeRoot(t)
	work := workDir(t)
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer m.Close()
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	go io.Copy(io.Discard, m)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTTYParent$")
	cmd.Env = append(os.Environ(), "SANDBOX_TEST_PARENT=1", "SANDBOX_ROOT="+root, "SANDBOX_WORK="+work)
	cmd.Stdin = slave
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Run(); err != nil {
		t.Fatalf("helper: %v\n%s\n%s", err, out.String(), errb.String())
	}
	parentErr, probe, _ := strings.Cut(out.String(), "\n")
	if parentErr != "parent TIOCSTI: ok" {
		t.Fatalf("the parent could not use TIOCSTI on its own terminal (%q): the test shows nothing", parentErr)
	}
	var r report
	if err := json.NewDecoder(strings.NewReader(probe[strings.Index(probe, "{"):])).Decode(&r); err != nil {
		t.Fatalf("probe output %q: %v", probe, err)
	}
	if r.TTY == "" {
		t.Errorf("the step opened /dev/tty")
	}
	if len(r.TIOCSTI) == 0 || r.TIOCSTI[0] == "" {
		t.Errorf("TIOCSTI on the step's stdin (the caller's terminal) succeeded: %q", r.TIOCSTI)
	}
	t.Logf("step's TIOCSTI on the terminal: %q", r.TIOCSTI[0])
}

// TestHelperTTYParent plays measure started from a terminal: it checks that
// it can itself push input into its terminal, then runs the probe with the
// terminal as stdin.
func TestHelperTTYParent(t *testing.T) {
	if os.Getenv("SANDBOX_TEST_PARENT") == "" {
		t.Skip("helper of TestSandboxNoTerminal")
	}
	if err := unix.IoctlSetPointerInt(0, unix.TIOCSTI, int(' ')); err != nil {
		fmt.Printf("parent TIOCSTI: %v\n", err)
	} else {
		fmt.Printf("parent TIOCSTI: ok\n")
	}
	s := &Spec{Root: os.Getenv("SANDBOX_ROOT"), Work: os.Getenv("SANDBOX_WORK"), Dir: WorkMount, Args: []string{"/usr/bin/probe", "report"}}
	c, err := s.Command()
	if err != nil {
		t.Fatal(err)
	}
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := (run.Exec{}).Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}
