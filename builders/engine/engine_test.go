package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/measure-cc/measure/builders/engine/enginetest"
	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/builders/toolchain"
)

func hexSHA(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

var src = []byte("source tarball")

func testJob() *Job {
	return &Job{
		Name:      "test t",
		Toolchain: toolchain.Spec{Suite: "trixie"},
		Inputs:    []Input{{URL: "http://example.org/src.tar", SHA256: hexSHA(src), Path: "/build/src/src.tar"}},
		Dirs:      []string{"/build/tree"},
		Stage:     []Stage{{Path: "/build/patches/p.diff", Data: []byte("patch")}},
		Dir:       "/build/tree",
		Env:       []string{"SOURCE_DATE_EPOCH=1"},
		Steps:     []Step{{Name: "unpack", Script: "tar -xf /build/src/src.tar", Prepare: true}, {Name: "build", Script: "make"}},
		Outputs:   []Output{{From: "/build/tree/out/fw.fd", Name: "fw.fd"}},
	}
}

func testEngine(t *testing.T, hook func(c *run.Cmd) error) (*Engine, *runtest.Fake, *enginetest.Fetch, *bytes.Buffer) {
	t.Helper()
	fetch := &enginetest.Fetch{Bodies: map[string][]byte{"http://example.org/src.tar": src}}
	runner := &runtest.Fake{Hook: hook}
	var progress bytes.Buffer
	e := &Engine{
		CacheDir: enginetest.CacheDir(t), Runner: runner, Fetch: fetch,
		Toolchains: &enginetest.Toolchains{TC: &toolchain.Toolchain{Digest: "sha256:" + strings.Repeat("ab", 32), Root: enginetest.Root(t)}},
		Progress:   &Progress{W: &progress},
	}
	return e, runner, fetch, &progress
}

// writeOutput plays the build step: it writes the output.
func writeOutput(data []byte) func(c *run.Cmd) error {
	return func(c *run.Cmd) error {
		if enginetest.Script(c.Args) != "umask 022\nmake" {
			return nil
		}
		io.WriteString(c.Stdout, "build log line\n")
		return enginetest.Write(c.Args, "/build/tree/out/fw.fd", data)
	}
}

func TestBuild(t *testing.T) {
	fw := bytes.Repeat([]byte{0xff}, 4096)
	e, runner, fetch, progress := testEngine(t, writeOutput(fw))
	out := t.TempDir()
	res, err := e.Build(context.Background(), testJob(), Options{OutDir: out, WorkName: "w"})
	if err != nil {
		t.Fatal(err)
	}
	calls := runner.Calls()
	if len(calls) != 2 {
		t.Fatalf("ran %d commands, want 2 (unpack, build)", len(calls))
	}
	args := strings.Join(calls[1].Args, " ")
	for _, want := range []string{
		"bwrap --unshare-user",
		"--setenv SOURCE_DATE_EPOCH 1",
		"--bind " + filepath.Join(e.CacheDir, "work/w") + " /build",
		"--ro-bind " + filepath.Join(e.CacheDir, "sources", hexSHA(src)) + " /build/src/src.tar",
		"--chdir /build/tree -- /bin/bash -e -o pipefail -c",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("build step command lacks %q:\n%s", want, args)
		}
	}
	if len(res.Files) != 1 || res.Files[0].SHA256 != hexSHA(fw) || res.Files[0].Path != filepath.Join(out, "fw.fd") {
		t.Errorf("Files = %+v, want fw.fd with sha256 %s", res.Files, hexSHA(fw))
	}
	if got, _ := os.ReadFile(filepath.Join(out, "fw.fd")); !bytes.Equal(got, fw) {
		t.Errorf("output holds %d bytes, want the step's %d", len(got), len(fw))
	}
	log, _ := os.ReadFile(res.Log)
	if !bytes.Contains(log, []byte("build log line")) || !bytes.Contains(log, []byte("# step build")) {
		t.Errorf("build log lacks the step and its output:\n%s", log)
	}
	for _, want := range []string{"step test t: unpack", "step test t: build done", "built test t"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress)
		}
	}
	if len(res.Steps) != 2 || res.Steps[0].Name != "unpack" {
		t.Errorf("Steps = %+v", res.Steps)
	}
	// The work tree is gone; the cache directories are private.
	if _, err := os.Stat(filepath.Join(e.CacheDir, "work/w")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work tree left behind: %v", err)
	}
	for _, d := range []string{e.CacheDir, filepath.Join(e.CacheDir, "work"), filepath.Join(e.CacheDir, "sources")} {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s is %v: other users get in", d, st.Mode().Perm())
		}
	}
	// A second build finds the source in the cache.
	if _, err := e.Build(context.Background(), testJob(), Options{OutDir: out}); err != nil {
		t.Fatal(err)
	}
	if fetch.Gets() != 1 {
		t.Errorf("downloads = %d after two builds, want 1", fetch.Gets())
	}
	// A cached source that no longer matches is downloaded again.
	if err := os.WriteFile(filepath.Join(e.CacheDir, "sources", hexSHA(src)), []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Build(context.Background(), testJob(), Options{OutDir: out}); err != nil {
		t.Fatal(err)
	}
	if fetch.Gets() != 2 {
		t.Errorf("downloads = %d after a tampered cache, want 2", fetch.Gets())
	}
}

func TestBuildBadInput(t *testing.T) {
	e, runner, fetch, _ := testEngine(t, nil)
	fetch.Bodies["http://example.org/src.tar"] = []byte("tampered")
	_, err := e.Build(context.Background(), testJob(), Options{OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "sha256 "+hexSHA([]byte("tampered"))+", want "+hexSHA(src)) {
		t.Errorf("Build() error = %v, want a sha256 mismatch", err)
	}
	if n := len(runner.Calls()); n != 0 {
		t.Errorf("ran %d steps on an unverified input", n)
	}
	ents, _ := os.ReadDir(filepath.Join(e.CacheDir, "sources"))
	if len(ents) != 0 {
		t.Errorf("sources/ holds %d files after a failed download, want none", len(ents))
	}
}

// TestOutputsCopiedSafely: an output that is a symlink (to a host secret),
// that lies under a symlinked directory, or that is not a regular file is an
// error naming the output; nothing is copied.
func TestOutputsCopiedSafely(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		play    func(work string) error
		wantErr string
	}{
		{"symlink to a host file", func(w string) error {
			os.MkdirAll(filepath.Join(w, "tree/out"), 0o755)
			return os.Symlink(secret, filepath.Join(w, "tree/out/fw.fd"))
		}, "symlink"},
		{"relative symlink", func(w string) error {
			os.MkdirAll(filepath.Join(w, "tree/out"), 0o755)
			return os.Symlink("../../../../../../../../"+secret, filepath.Join(w, "tree/out/fw.fd"))
		}, "symlink"},
		{"symlinked directory", func(w string) error {
			os.MkdirAll(filepath.Join(w, "tree"), 0o755)
			return os.Symlink(filepath.Dir(secret), filepath.Join(w, "tree/out"))
		}, "symlink"},
		{"fifo", func(w string) error {
			os.MkdirAll(filepath.Join(w, "tree/out"), 0o755)
			return syscall.Mkfifo(filepath.Join(w, "tree/out/fw.fd"), 0o644)
		}, "not a regular file"},
		{"directory", func(w string) error {
			return os.MkdirAll(filepath.Join(w, "tree/out/fw.fd"), 0o755)
		}, "not a regular file"},
		{"missing", func(string) error { return nil }, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _, _, _ := testEngine(t, func(c *run.Cmd) error {
				if enginetest.Script(c.Args) != "umask 022\nmake" {
					return nil
				}
				return tc.play(enginetest.WorkTree(c.Args))
			})
			out := t.TempDir()
			done := make(chan error, 1)
			go func() {
				_, err := e.Build(context.Background(), testJob(), Options{OutDir: out})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Build hangs on the output")
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `output "/build/tree/out/fw.fd"`) {
				t.Errorf("Build() error = %v, want %q naming the output", err, tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(out, "fw.fd")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("an output was written: %v", err)
			}
		})
	}
}

// TestInterrupt: a cancelled build stops its step, removes its work tree,
// writes no output and says it was interrupted.
func TestInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var work string
	e, _, _, _ := testEngine(t, func(c *run.Cmd) error {
		work = enginetest.WorkTree(c.Args)
		cancel()
		return fmt.Errorf("running bwrap: %w", context.Canceled)
	})
	out := t.TempDir()
	_, err := e.Build(ctx, testJob(), Options{OutDir: out})
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Build() error = %v, want ErrInterrupted and context.Canceled", err)
	}
	if _, err := os.Stat(work); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work tree %s left after an interrupt: %v", work, err)
	}
	if _, err := os.Stat(filepath.Join(out, "fw.fd")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an output was written: %v", err)
	}
}

// TestLockAndSweep: a build waits while another holds the cache's lock and
// says so; a build removes the work trees killed builds left, but not kept
// ones.
func TestLockAndSweep(t *testing.T) {
	e, _, _, progress := testEngine(t, writeOutput([]byte("fw")))
	if err := os.MkdirAll(filepath.Join(e.CacheDir, "work/killed-build/tree"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(e.CacheDir, "work/kept"), 0o755)
	os.WriteFile(filepath.Join(e.CacheDir, "work/kept"+keepSuffix), nil, 0o600)
	f, err := os.OpenFile(filepath.Join(e.CacheDir, "build.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := Flock(context.Background(), f, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = e.Build(ctx, testJob(), Options{OutDir: t.TempDir()})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(progress.String(), "waiting for another build") {
		t.Errorf("Build() under a held lock = %v, progress %q; want it to wait and say so", err, progress)
	}
	f.Close()
	if _, err := e.Build(context.Background(), testJob(), Options{OutDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.CacheDir, "work/killed-build")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a killed build's work tree survived: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.CacheDir, "work/kept")); err != nil {
		t.Errorf("a kept work tree was removed: %v", err)
	}
}

// TestStepFailure: a failing step names the step and the log, and the last
// 20 log lines reach stderr.
func TestStepFailure(t *testing.T) {
	e, _, _, progress := testEngine(t, func(c *run.Cmd) error {
		for i := 1; i <= 30; i++ {
			fmt.Fprintf(c.Stdout, "line %d\n", i)
		}
		return errors.New("running bwrap: exit status 2")
	})
	_, err := e.Build(context.Background(), testJob(), Options{OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "build test t step unpack: running bwrap: exit status 2 (log ") {
		t.Errorf("Build() error = %v, want the step and the log named", err)
	}
	p := progress.String()
	if !strings.Contains(p, "| line 11\n") || !strings.Contains(p, "| line 30\n") || strings.Contains(p, "| line 10\n") {
		t.Errorf("progress does not end with the log's last 20 lines:\n%s", p)
	}
}

func TestCheck(t *testing.T) {
	n := 0
	e, runner, _, _ := testEngine(t, func(c *run.Cmd) error {
		if enginetest.Script(c.Args) != "umask 022\nmake" {
			return nil
		}
		n++
		data := bytes.Repeat([]byte{0xff}, 4096)
		if n == 2 {
			data[100] = 0 // the second build differs in one byte
		}
		return enginetest.Write(c.Args, "/build/tree/out/fw.fd", data)
	})
	res, err := e.Check(context.Background(), testJob(), t.TempDir())
	if !errors.Is(err, ErrNotReproducible) {
		t.Fatalf("Check() error = %v, want ErrNotReproducible", err)
	}
	if !strings.Contains(err.Error(), "fw.fd (1 bytes differ, the first at 0x64)") {
		t.Errorf("Check() error = %v, want it to name fw.fd and the offset", err)
	}
	calls := runner.Calls()
	if len(calls) != 4 {
		t.Fatalf("ran %d commands, want 4", len(calls))
	}
	// The two builds differ outside the sandbox: work path, umask, env.
	if enginetest.WorkTree(calls[1].Args) == enginetest.WorkTree(calls[3].Args) {
		t.Errorf("both builds used work tree %q", enginetest.WorkTree(calls[1].Args))
	}
	for i, v := range CheckVariations {
		c := calls[2*i+1]
		if c.Args[0] != "/bin/sh" || c.Args[2] != "umask "+v.Umask+` && exec "$@"` {
			t.Errorf("build %d does not vary the umask to %s: %q", i, v.Umask, c.Args[:4])
		}
		for _, kv := range v.Env {
			if !strings.Contains(strings.Join(c.Env, " "), kv) {
				t.Errorf("build %d env %q lacks %s", i, c.Env, kv)
			}
		}
	}
	if len(res.Mismatches) != 1 || res.Mismatches[0].Name != "fw.fd" {
		t.Errorf("Mismatches = %+v, want fw.fd", res.Mismatches)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(j *Job)
		wantErr string
	}{
		{"output outside the work tree", func(j *Job) { j.Outputs[0].From = "/etc/shadow" }, `output "/etc/shadow": want a path under /build`},
		{"output escaping", func(j *Job) { j.Outputs[0].From = "/build/../etc/shadow" }, "want a clean absolute path"},
		{"output name with a slash", func(j *Job) { j.Outputs[0].Name = "../x" }, "want a plain file name"},
		{"duplicate output", func(j *Job) { j.Outputs = append(j.Outputs, j.Outputs[0]) }, "appears twice"},
		{"input outside", func(j *Job) { j.Inputs[0].Path = "/usr/bin/cc" }, "want a path under /build"},
		{"input digest", func(j *Job) { j.Inputs[0].SHA256 = "abc" }, "64 lower-case hex"},
		{"staged file outside", func(j *Job) { j.Stage[0].Path = "/tmp/x" }, "want a path under /build"},
		{"no steps", func(j *Job) { j.Steps = nil }, "no steps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := testJob()
			tc.edit(j)
			err := j.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate() = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if err := testJob().Validate(); err != nil {
		t.Errorf("Validate(good) = %v", err)
	}
}

func TestShell(t *testing.T) {
	e, runner, _, _ := testEngine(t, nil)
	if err := e.Shell(context.Background(), testJob(), []string{"id", "-u"}, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	calls := runner.Calls()
	if len(calls) != 2 {
		t.Fatalf("ran %d commands, want the prepare step and the shell", len(calls))
	}
	if enginetest.Script(calls[0].Args) != "umask 022\ntar -xf /build/src/src.tar" {
		t.Errorf("first command is not the unpack step: %q", calls[0].Args)
	}
	last := calls[1].Args
	if got := strings.Join(last[len(last)-2:], " "); got != "id -u" || !strings.Contains(strings.Join(last, " "), "--new-session") {
		t.Errorf("shell command = %q, want id -u in the step's sandbox", last)
	}
	_ = sandbox.WorkMount
}

func TestHasSubIDs(t *testing.T) {
	f := filepath.Join(t.TempDir(), "subuid")
	os.WriteFile(f, []byte("alice:100000:65536\n1001:165536:65536\n"), 0o644)
	tests := []struct {
		name, id string
		want     bool
	}{
		{"alice", "1000", true},
		{"bob", "1001", true},
		{"carol", "1002", false},
		{"ali", "1003", false},
	}
	for _, tc := range tests {
		if got := hasSubIDs(f, tc.name, tc.id); got != tc.want {
			t.Errorf("hasSubIDs(%q, %q) = %v, want %v", tc.name, tc.id, got, tc.want)
		}
	}
	if hasSubIDs(filepath.Join(t.TempDir(), "none"), "alice", "1000") {
		t.Errorf("a missing file has ranges")
	}
}

// TestLogNotFollowed: a symlink planted where build.log goes is replaced,
// never written through.
func TestLogNotFollowed(t *testing.T) {
	e, _, _, _ := testEngine(t, writeOutput([]byte("fw")))
	out := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	if err := os.Symlink(victim, filepath.Join(out, "build.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(out, "fw.fd")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Build(context.Background(), testJob(), Options{OutDir: out}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlinks' target was written: %q", b)
	}
	for _, n := range []string{"build.log", "fw.fd"} {
		if st, err := os.Lstat(filepath.Join(out, n)); err != nil || !st.Mode().IsRegular() {
			t.Errorf("%s is not a regular file: %v", n, err)
		}
	}
}

// TestPrintable: what a step writes reaches the terminal without its
// control sequences (clipboard, cursor movement, a forged verdict).
func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"gcc -c x.c", "gcc -c x.c"},
		{"\x1b]52;c;cm0gLXJmIH4K\a\x1b[2A\x1b[Jrecipe x: reproducible", "?]52;c;cm0gLXJmIH4K??[2A?[Jrecipe x: reproducible"},
		{"tab\tkept, üñí ok", "tab\tkept, üñí ok"},
		{"c1 \u009b31m, del \x7f, bad \xff", "c1 ?31m, del ?, bad ?"},
	}
	for _, tc := range tests {
		if got := run.Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var log bytes.Buffer
	l := NewLogWriter(&log)
	io.WriteString(l, "\x1b[2Afake\n")
	if got := l.LastLine(); got != "?[2Afake" {
		t.Errorf("LastLine() = %q, want the escape neutralised", got)
	}
	if !strings.Contains(log.String(), "\x1b[2Afake") {
		t.Errorf("the log file lost the raw bytes")
	}
}

// TestKeepWork: --keep-work keeps the work tree, and the next build's sweep
// of killed builds' trees leaves it.
func TestKeepWork(t *testing.T) {
	e, _, _, progress := testEngine(t, writeOutput([]byte("fw")))
	e.KeepWork = true
	if _, err := e.Build(context.Background(), testJob(), Options{OutDir: t.TempDir(), WorkName: "k"}); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(e.CacheDir, "work/k")
	if !strings.Contains(progress.String(), "work tree kept at "+kept) {
		t.Errorf("progress does not say where the tree is:\n%s", progress)
	}
	e.KeepWork = false
	if _, err := e.Build(context.Background(), testJob(), Options{OutDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(kept, "tree/out/fw.fd")); err != nil {
		t.Errorf("the kept work tree did not survive the next build: %v", err)
	}
}

// TestPreflightNamesPackages: without bwrap and mmdebstrap on PATH, the
// error names both Debian packages, before anything is downloaded.
func TestPreflightNamesPackages(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Preflight()
	for _, want := range []string{"apt-get install bubblewrap", "apt-get install mmdebstrap"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Preflight() = %v, want %q", err, want)
		}
	}
}
