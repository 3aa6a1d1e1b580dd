package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testRootDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "etc", "tmp", "dev", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestCommand(t *testing.T) {
	root := testRootDir(t)
	work := t.TempDir()
	for _, priv := range []bool{true, false} {
		s := &Spec{
			Root: root, Work: work, Dir: "/build/src",
			Env:        []string{"SOURCE_DATE_EPOCH=1", "A=b"},
			Args:       Script("make"),
			Binds:      []Bind{{Host: work, Path: "/build/src/in.tar"}},
			Privileged: &priv,
		}
		c, err := s.Command()
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Join(c.Args, " ")
		for _, want := range []string{
			"bwrap --unshare-user --disable-userns --uid 1000 --gid 1000 --unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try --hostname measure-build --die-with-parent --new-session --cap-drop ALL --clearenv",
			"--setenv A b --setenv HOME /build --setenv LANG C.UTF-8",
			"--setenv SOURCE_DATE_EPOCH 1 --setenv TZ UTC --setenv USER builder",
			"--symlink usr/bin /bin",
			"--ro-bind " + root + "/etc /etc --ro-bind " + root + "/usr /usr",
			"--proc /proc --tmpfs /dev --dev-bind /dev/null /dev/null",
			"--tmpfs /dev/shm --tmpfs /tmp --bind " + work + " /build --ro-bind " + work + " /build/src/in.tar --remount-ro / --chdir /build/src -- /bin/bash -e -o pipefail -c",
		} {
			if !strings.Contains(args, want) {
				t.Errorf("privileged=%v: Command() args lack %q:\n%s", priv, want, args)
			}
		}
		for _, bad := range []string{"/dev/tty", "--dev /dev", " /tmp --ro-bind", "--share-net"} {
			if strings.Contains(args, bad) {
				t.Errorf("privileged=%v: Command() args hold %q:\n%s", priv, bad, args)
			}
		}
		if !c.Attr.Setsid {
			t.Errorf("privileged=%v: no new session", priv)
		}
		if priv {
			if c.Attr.Credential == nil || c.Attr.Credential.Uid != HostID || c.Attr.Credential.Gid != HostID || len(c.Attr.Credential.Groups) != 0 {
				t.Errorf("privileged: credential %+v, want uid and gid %d, no groups", c.Attr.Credential, HostID)
			}
			if c.Attr.Cloneflags&syscall.CLONE_NEWNET == 0 || slices.Contains(c.Args, "--unshare-net") {
				t.Errorf("privileged: the network namespace must be made before the id drop, not by bwrap")
			}
		} else if c.Attr.Credential != nil || !slices.Contains(c.Args, "--unshare-net") {
			t.Errorf("unprivileged: credential %+v, --unshare-net %v", c.Attr.Credential, slices.Contains(c.Args, "--unshare-net"))
		}
		if diff := cmp.Diff([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, c.Env); diff != "" {
			t.Errorf("Command() env (-want +got):\n%s", diff)
		}
	}
}

func TestCommandVariation(t *testing.T) {
	root := testRootDir(t)
	s := &Spec{Root: root, Work: t.TempDir(), Dir: "/build", Args: []string{"/bin/true"},
		Vary: Variation{Umask: "077", Env: []string{"TZ=Asia/Tokyo"}}}
	c, err := s.Command()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/bin/sh", "-c", `umask 077 && exec "$@"`, "sh", "bwrap"}, c.Args[:5]); diff != "" {
		t.Errorf("varied umask (-want +got):\n%s", diff)
	}
	if !slices.Contains(c.Env, "TZ=Asia/Tokyo") {
		t.Errorf("the variation's environment is not outside: %q", c.Env)
	}
	if slices.Contains(c.Args, "Asia/Tokyo") {
		t.Errorf("the variation's environment reaches inside: %q", c.Args)
	}
}

func TestCommandErrors(t *testing.T) {
	root := testRootDir(t)
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"no args", Spec{Root: root, Work: "/w", Dir: "/build"}, "must all be set"},
		{"relative", Spec{Root: "r", Work: "/w", Dir: "/build", Args: []string{"/x"}}, "not absolute"},
		{"no root", Spec{Root: "/nonexistent", Work: "/w", Dir: "/build", Args: []string{"/x"}}, "toolchain root"},
		{"no work", Spec{Root: root, Work: "/nonexistent", Dir: "/build", Args: []string{"/x"}}, "/nonexistent"},
		{"relative bind", Spec{Root: root, Work: root, Dir: "/build", Args: []string{"/x"}, Binds: []Bind{{Host: "x", Path: "/y"}}}, "absolute"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.spec.Command()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Command() error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestWorkRel(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/build", ".", true},
		{"/build/a/b", "a/b", true},
		{"/build/../etc/passwd", "", false},
		{"/buildx", "", false},
		{"/etc", "", false},
	}
	for _, tc := range tests {
		got, ok := WorkRel(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("WorkRel(%q) = %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEnviron(t *testing.T) {
	s := &Spec{Env: []string{"SOURCE_DATE_EPOCH=1", "A=b"}}
	want := []string{
		"A=b", "HOME=/build", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "LOGNAME=builder",
		"PATH=" + Path, "SOURCE_DATE_EPOCH=1", "TZ=UTC", "USER=builder",
	}
	if diff := cmp.Diff(want, s.Environ()); diff != "" {
		t.Errorf("Environ() (-want +got):\n%s", diff)
	}
}

func TestIDFree(t *testing.T) {
	f := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(f, []byte("root:x:0:0:root:/root:/bin/bash\nbuilder:x:1879048192:100::/:/bin/sh\n"), 0o644)
	if err := idFree(f, HostID); err == nil || !strings.Contains(err.Error(), `belongs to "builder"`) {
		t.Errorf("idFree(taken) = %v, want the user named", err)
	}
	if err := idFree(f, 4242); err != nil {
		t.Errorf("idFree(free) = %v", err)
	}
	if err := idFree(filepath.Join(t.TempDir(), "none"), HostID); err != nil {
		t.Errorf("idFree(no database) = %v", err)
	}
}

// TestPreflightNamesPackage: without bwrap on PATH (where the runner looks
// for it), the error names the Debian package.
func TestPreflightNamesPackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Preflight()
	if err == nil || !strings.Contains(err.Error(), "apt-get install bubblewrap") {
		t.Errorf("Preflight() = %v, want the package named", err)
	}
}
