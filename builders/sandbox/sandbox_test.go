package sandbox

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCommand(t *testing.T) {
	s := &Spec{
		Root:  "/cache/roots/sha256-abc",
		Work:  "/cache/work/w1",
		Dir:   "/build/src",
		Env:   []string{"SOURCE_DATE_EPOCH=1", "A=b"},
		Shell: "/bin/bash",
	}
	c, err := s.Command("make")
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := []string{
		"unshare", "--mount", "--pid", "--net", "--uts", "--ipc", "--fork", "--kill-child",
		"--", "/usr/bin/env", "-i",
		"PATH=" + Path,
		"R=/cache/roots/sha256-abc", "W=/cache/work/w1", "S=cd /build/src\nmake",
		"/bin/sh", "-e", "-c",
	}
	if diff := cmp.Diff(wantPrefix, c.Args[:len(wantPrefix)]); diff != "" {
		t.Errorf("Command() args prefix (-want +got):\n%s", diff)
	}
	wantEnv := []string{
		"A=b", "HOME=/build", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "LOGNAME=builder",
		"PATH=" + Path, "SOURCE_DATE_EPOCH=1", "TZ=UTC", "USER=builder",
	}
	if diff := cmp.Diff(wantEnv, c.Args[len(wantPrefix)+2:]); diff != "" {
		t.Errorf("Command() inner environment (-want +got):\n%s", diff)
	}
	setup := c.Args[len(wantPrefix)]
	for _, want := range []string{
		`mount -t overlay overlay -o "lowerdir=$R,upperdir=$W/upper,workdir=$W/work" "$W/merged"`,
		`echo measure-build > /proc/sys/kernel/hostname`,
		"umask 022",
		`exec chroot --userspec=1000:1000 --groups=1000 "$W/merged" /usr/bin/env -i "$@" /bin/bash -e -c "$S"`,
	} {
		if !strings.Contains(setup, want) {
			t.Errorf("Command() setup lacks %q:\n%s", want, setup)
		}
	}
	if strings.Contains(setup, "077") {
		t.Errorf("Command() setup varies the umask without a Variation:\n%s", setup)
	}
	if diff := cmp.Diff([]string{"PATH=" + Path}, c.Env); diff != "" {
		t.Errorf("Command() env (-want +got):\n%s", diff)
	}
}

func TestCommandVariation(t *testing.T) {
	s := &Spec{Root: "/r", Work: "/w", Dir: "/d", Vary: Variation{Hostname: "other", Umask: "077", Env: []string{"TZ=Asia/Tokyo"}}}
	c, err := s.Command("true")
	if err != nil {
		t.Fatal(err)
	}
	setup := c.Args[18]
	if !strings.HasPrefix(setup, "umask 077\necho other > /proc/sys/kernel/hostname\n") {
		t.Errorf("setup does not start with the variation:\n%s", setup)
	}
	// The fixed values come after, so they win.
	if strings.Index(setup, "umask 022") < strings.Index(setup, "umask 077") {
		t.Errorf("fixed umask precedes the varied one:\n%s", setup)
	}
	if diff := cmp.Diff([]string{"PATH=" + Path, "TZ=Asia/Tokyo"}, c.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if !strings.Contains(setup, `/bin/sh -e -c "$S"`) {
		t.Errorf("default shell is not /bin/sh:\n%s", setup)
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"no root", Spec{Work: "/w", Dir: "/d"}, "must all be set"},
		{"relative work", Spec{Root: "/r", Work: "w", Dir: "/d"}, `path "w" is not absolute`},
		{"relative dir", Spec{Root: "/r", Work: "/w", Dir: "d"}, `path "d" is not absolute`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.spec.Command("true")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Command() error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestHostPath(t *testing.T) {
	s := &Spec{Work: "/w"}
	if got, want := s.HostPath("/build/x/../y"), "/w/upper/build/y"; got != want {
		t.Errorf("HostPath() = %q, want %q", got, want)
	}
	if got, want := s.HostPath("../../etc"), "/w/upper/etc"; got != want {
		t.Errorf("HostPath(escape) = %q, want %q", got, want)
	}
}
