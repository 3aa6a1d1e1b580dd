package initramfs

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/buildinfo"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/u-root/u-root/pkg/cpio"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
)

// fakeGo returns a runner that plays `go build -o OUT`: it writes a small
// stand-in for the binary to OUT.
func fakeGo(t *testing.T) *runtest.Fake {
	t.Helper()
	return &runtest.Fake{Hook: func(c *run.Cmd) error {
		for i, a := range c.Args {
			if a == "-o" {
				return os.WriteFile(c.Args[i+1], []byte("\x7fELF fake init"), 0o755)
			}
		}
		t.Errorf("go build without -o: %q", c.Args)
		return nil
	}}
}

// fakeBuildInfo is the build information of the stand-in binary.
func fakeBuildInfo(string) (*buildinfo.BuildInfo, error) {
	return &buildinfo.BuildInfo{GoVersion: runtime.Version(), Settings: []debug.BuildSetting{{Key: "-trimpath", Value: "true"}}}, nil
}

// newBuilder returns a Builder with the fakes.
func newBuilder(t *testing.T) *Builder {
	return &Builder{Runner: fakeGo(t), ReadBuildInfo: fakeBuildInfo}
}

// TestRealBuildInfo reads the build information of a real Go binary: the
// test's own.
func TestRealBuildInfo(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{Runner: &runtest.Fake{Hook: func(c *run.Cmd) error {
		return os.Symlink(self, c.Args[len(c.Args)-2])
	}}}
	bi, err := b.BuildInit(context.Background(), &Spec{Init: t.TempDir(), GoVersion: runtime.Version()}, filepath.Join(t.TempDir(), "init"))
	if err != nil {
		t.Fatal(err)
	}
	if bi.GoVersion != runtime.Version() {
		t.Errorf("BuildInit: GoVersion %q, want %q", bi.GoVersion, runtime.Version())
	}
}

func TestGoBuildCmd(t *testing.T) {
	b := &Builder{Go: "/usr/local/go/bin/go", CacheEnv: []string{"HOME=/root", "GOCACHE=/root/.cache/go-build"}}
	c := b.GoBuildCmd("/src/cmd/measure-init", "/tmp/w/init")
	want := &run.Cmd{
		Args: []string{"/usr/local/go/bin/go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-buildid=", "-o", "/tmp/w/init", "."},
		Env: []string{
			"CGO_ENABLED=0", "GOAMD64=v1", "GOARCH=amd64", "GOCACHE=/root/.cache/go-build", "GOEXPERIMENT=", "GOFLAGS=",
			"GOOS=linux", "GOPROXY=off", "GOTOOLCHAIN=local", "GOWORK=off", "HOME=/root",
		},
		Dir: "/src/cmd/measure-init",
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("GoBuildCmd (-want +got):\n%s", diff)
	}
}

// spec writes two input files into dir with the given host permissions
// and returns a spec that places them.
func spec(t *testing.T, dir string, perm os.FileMode) *Spec {
	t.Helper()
	initDir := filepath.Join(dir, "init")
	if err := os.MkdirAll(initDir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"hello.txt": "hello\n", "run.sh": "#!/bin/sh\necho hi\n"}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
	}
	return &Spec{
		Init: initDir,
		Files: []File{
			{Source: filepath.Join(dir, "run.sh"), Path: "/usr/bin/run.sh", Mode: 0o755},
			{Source: filepath.Join(dir, "hello.txt"), Path: "etc/hello.txt", Mode: 0o644},
		},
	}
}

// TestBuildTwiceSameBytes builds twice from different directories, with
// different host permissions on the inputs, and compares the bytes.
func TestBuildTwiceSameBytes(t *testing.T) {
	var outs [2][]byte
	for i, perm := range []os.FileMode{0o644, 0o600} {
		dir := t.TempDir()
		s := spec(t, dir, perm)
		b := newBuilder(t)
		b.WorkDir = filepath.Join(dir, "work")
		out := filepath.Join(dir, "out", "initramfs.cpio.gz")
		res, err := b.Build(context.Background(), s, out)
		if err != nil {
			t.Fatalf("Build %d: %v", i, err)
		}
		if res.GoVersion != runtime.Version() {
			t.Errorf("Build %d: GoVersion %q, want %q", i, res.GoVersion, runtime.Version())
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256Hex(data); got != res.Archive.SHA256 {
			t.Errorf("Build %d: Archive.SHA256 %s, file's %s", i, res.Archive.SHA256, got)
		}
		outs[i] = data
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Errorf("two builds differ: %s and %s", sha256Hex(outs[0]), sha256Hex(outs[1]))
	}
}

// readArchive decompresses and parses an archive with u-root's reader.
func readArchive(t *testing.T, data []byte) []cpio.Record {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() || zr.Comment != "" {
		t.Errorf("gzip header name %q mtime %v comment %q, want all empty", zr.Name, zr.ModTime, zr.Comment)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestArchiveParsesBack(t *testing.T) {
	dir := t.TempDir()
	s := spec(t, dir, 0o600)
	b := newBuilder(t)
	out := filepath.Join(dir, "initramfs.cpio.gz")
	if _, err := b.Build(context.Background(), s, out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Name       string
		Mode       uint64
		Rdev       [2]uint64
		Content    string
		Ino, NLink uint64
	}
	var got []entry
	for _, r := range readArchive(t, data) {
		if r.MTime != 0 || r.UID != 0 || r.GID != 0 || r.Major != 0 || r.Minor != 0 {
			t.Errorf("%s: mtime %d uid %d gid %d dev %d:%d, want all 0", r.Name, r.MTime, r.UID, r.GID, r.Major, r.Minor)
		}
		e := entry{Name: r.Name, Mode: r.Mode, Rdev: [2]uint64{r.Rmajor, r.Rminor}, Ino: r.Ino, NLink: r.NLink}
		if r.Mode&cpio.S_IFMT == cpio.S_IFREG {
			c, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			if err != nil {
				t.Fatal(err)
			}
			e.Content = string(c)
		}
		got = append(got, e)
	}
	const dir755, file = cpio.S_IFDIR | 0o755, cpio.S_IFREG
	want := []entry{
		{Name: "dev", Mode: dir755, Ino: 1, NLink: 1},
		{Name: "dev/console", Mode: cpio.S_IFCHR | 0o600, Rdev: [2]uint64{5, 1}, Ino: 2, NLink: 1},
		{Name: "etc", Mode: dir755, Ino: 3, NLink: 1},
		{Name: "etc/hello.txt", Mode: file | 0o644, Content: "hello\n", Ino: 4, NLink: 1},
		{Name: "init", Mode: file | 0o755, Content: "\x7fELF fake init", Ino: 5, NLink: 1},
		{Name: "proc", Mode: dir755, Ino: 6, NLink: 1},
		{Name: "sys", Mode: dir755, Ino: 7, NLink: 1},
		{Name: "tmp", Mode: dir755, Ino: 8, NLink: 1},
		{Name: "usr", Mode: dir755, Ino: 9, NLink: 1},
		{Name: "usr/bin", Mode: dir755, Ino: 10, NLink: 1},
		{Name: "usr/bin/run.sh", Mode: file | 0o755, Content: "#!/bin/sh\necho hi\n", Ino: 11, NLink: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("archive records (-want +got):\n%s", diff)
	}
}

func TestDefaultModeFromHost(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		perm os.FileMode
		want uint64
	}{
		{"exec", 0o700, cpio.S_IFREG | ExecMode},
		{"plain", 0o640, cpio.S_IFREG | FileMode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.name), tc.perm); err != nil {
				t.Fatal(err)
			}
			e, err := fileEntry(File{Source: p, Path: "/x/" + tc.name})
			if err != nil {
				t.Fatal(err)
			}
			if e.Mode != tc.want || e.Path != "x/"+tc.name {
				t.Errorf("fileEntry(%s) = mode %#o path %q, want %#o %q", tc.name, e.Mode, e.Path, tc.want, "x/"+tc.name)
			}
		})
	}
}

func TestRecordsErrors(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
		wantErr string
	}{
		{"twice", []Entry{{Path: "a", Mode: cpio.S_IFREG}, {Path: "/a", Mode: cpio.S_IFREG}}, `"a" appears twice`},
		{"escapes", []Entry{{Path: "../etc/passwd", Mode: cpio.S_IFREG}}, "want a file path inside"},
		{"root", []Entry{{Path: "/", Mode: cpio.S_IFREG}}, "want a file path inside"},
		{"parent is a file", []Entry{{Path: "a", Mode: cpio.S_IFREG}, {Path: "a/b", Mode: cpio.S_IFREG}}, `parent "a" is not a directory`},
		{"console", []Entry{{Path: "dev/console", Mode: cpio.S_IFREG}}, `"dev/console" appears twice`},
		{"symlink", []Entry{{Path: "l", Mode: cpio.S_IFLNK}}, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Records(tc.entries)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Records = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"no init", Spec{}, "no init program"},
		{"init missing", Spec{Init: filepath.Join(dir, "nope")}, "no such file"},
		{"go pin", Spec{Init: dir, GoVersion: "go1.0"}, "want go1.0"},
		{"file missing", Spec{Init: dir, Files: []File{{Source: filepath.Join(dir, "nope"), Path: "x"}}}, `initramfs file "x"`},
		{"bad mode", Spec{Init: dir, Files: []File{{Source: os.Args[0], Path: "x", Mode: 0o100755}}}, "permission bits only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(t)
			_, err := b.Build(context.Background(), &tc.spec, filepath.Join(t.TempDir(), "i.cpio.gz"))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Build = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestWriteDeterministic: the same entries in another order give the same
// bytes.
func TestWriteDeterministic(t *testing.T) {
	a := []Entry{{Path: "b/c", Mode: cpio.S_IFREG | 0o644, Data: []byte("c")}, {Path: "a", Mode: cpio.S_IFREG | 0o755, Data: []byte("a")}}
	b := []Entry{a[1], a[0]}
	var ba, bb bytes.Buffer
	pa, err := Write(&ba, a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Write(&bb, b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
		t.Errorf("Write of reordered entries differs")
	}
	if diff := cmp.Diff(pa, pb); diff != "" {
		t.Errorf("paths differ (-a +b):\n%s", diff)
	}
}
