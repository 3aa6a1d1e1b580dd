package toolchain

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// entry is one tar entry for tests: a header and, for a regular file, its
// body (Size is set from it unless the header sets one).
type entry struct {
	hdr  tar.Header
	body string
}

func dir(name string, mode int64) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode}}
}
func file(name, body string, mode int64) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode}, body: body}
}
func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}
func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target}}
}

var mtime = time.Unix(1735689600, 0)

// tarOf writes entries as a tar stream. A header Size larger than the body
// leaves the stream short, as a truncated download would.
func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Size == 0 {
			h.Size = int64(len(e.body))
		}
		if h.ModTime.IsZero() && h.Typeflag != tar.TypeXGlobalHeader {
			h.ModTime = mtime
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > int64(len(e.body)) {
			tw.Write([]byte(e.body))
			return buf.Bytes() // truncated: no more entries, no trailer
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hostileTars are tars Unpack must refuse, with the error they give.
var hostileTars = []struct {
	name    string
	entries []entry
	wantErr string
}{
	{"dot-dot escape", []entry{file("../evil", "x", 0o644)}, `"../evil": name has a ".." component`},
	{"dot-dot inside", []entry{dir("a/", 0o755), file("a/../../evil", "x", 0o644)}, `name has a ".." component`},
	{"absolute name", []entry{file("/etc/evil", "x", 0o644)}, `"/etc/evil": absolute name`},
	{"char device", []entry{{hdr: tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}}}, `"dev/null": type '3' is not`},
	{"block device", []entry{{hdr: tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Mode: 0o660}}}, `"sda": type '4' is not`},
	{"fifo", []entry{{hdr: tar.Header{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o644}}}, `"fifo": type '6' is not`},
	{"symlink parent", []entry{symlink("etc", "/etc"), file("etc/evil", "x", 0o644)}, `"etc/evil": parent "etc" is a symlink`},
	{"relative symlink parent", []entry{dir("a/", 0o755), symlink("l", "a"), file("l/x", "x", 0o644)}, `"l/x": parent "l" is a symlink`},
	{"file parent", []entry{file("f", "x", 0o644), file("f/x", "x", 0o644)}, `parent "f" is a regular file`},
	{"hard link to /etc/passwd", []entry{hardlink("passwd", "/etc/passwd")}, `"passwd": hard link target "/etc/passwd": absolute name`},
	{"hard link outside", []entry{hardlink("x", "../../x")}, `hard link target "../../x": name has a ".." component`},
	{"hard link to missing", []entry{hardlink("x", "nothing")}, `"x": hard link target "nothing" is not a regular file extracted before`},
	{"hard link to symlink", []entry{symlink("s", "/etc/passwd"), hardlink("x", "s")}, `hard link target "s" is not a regular file`},
	{"hard link to dir", []entry{dir("d/", 0o755), hardlink("x", "d")}, `hard link target "d" is not a regular file`},
	{"file replaces dir", []entry{dir("d/", 0o755), file("d", "x", 0o644)}, `"d": replaces a directory`},
	{"symlink replaces dir", []entry{dir("d/", 0o755), symlink("d", "/")}, `"d": replaces a directory`},
	{"huge declared size", []entry{{hdr: tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 20}, body: "short"}}, `"big": unexpected EOF`},
	{"over the byte cap", []entry{{hdr: tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: MaxUnpackBytes + 1}}}, `"big": size 17179869185: more than`},
	{"whiteout", []entry{file(".wh.x", "", 0o644)}, "whiteouts are not supported"},
	{"empty symlink target", []entry{symlink("s", "")}, `symlink target ""`},
}

// sparseTar is a PAX sparse (format 1.0) file that declares 1 GiB of
// zeros in a few bytes. tar.Writer does not write GNU.sparse records, so
// they are written under another key and renamed in the bytes.
func sparseTar(t testing.TB) []byte {
	data := "1\n0\n1\n" // the sparse map: one region at 0 of length 1
	data += strings.Repeat("\x00", 512-len(data)) + "x"
	b := tarOf(t, entry{hdr: tar.Header{Name: "s", Typeflag: tar.TypeReg, Mode: 0o644, PAXRecords: map[string]string{
		"GNU.sparsX.major": "1", "GNU.sparsX.minor": "0", "GNU.sparsX.name": "s", "GNU.sparsX.realsize": "1073741824",
	}}, body: data})
	return bytes.ReplaceAll(b, []byte("GNU.sparsX."), []byte("GNU.sparse."))
}

func TestUnpackHostile(t *testing.T) {
	t.Run("sparse", func(t *testing.T) {
		top := t.TempDir()
		root := filepath.Join(top, "root")
		os.Mkdir(root, 0o700)
		if err := Unpack(bytes.NewReader(sparseTar(t)), root); err == nil || !strings.Contains(err.Error(), `"s": sparse files are not supported`) {
			t.Errorf("Unpack(sparse) error = %v, want sparse files refused", err)
		}
		checkNothingOutside(t, top)
	})
	for _, tc := range hostileTars {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			root := filepath.Join(top, "root")
			if err := os.Mkdir(root, 0o700); err != nil {
				t.Fatal(err)
			}
			err := Unpack(bytes.NewReader(tarOf(t, tc.entries...)), root)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Unpack() error = %v, want %q", err, tc.wantErr)
			}
			checkNothingOutside(t, top)
			for _, p := range []string{"/etc/evil", filepath.Join(top, "evil")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

// checkNothingOutside fails if top holds anything but the directory root.
func checkNothingOutside(t testing.TB, top string) {
	t.Helper()
	des, err := os.ReadDir(top)
	if err != nil {
		t.Fatal(err)
	}
	if len(des) != 1 || des[0].Name() != "root" || !des[0].IsDir() {
		var names []string
		for _, d := range des {
			names = append(names, d.Name())
		}
		t.Fatalf("after Unpack, %s holds %q, want only root/", top, names)
	}
}

// TestUnpackRoundTrip unpacks a good tar and reads back modes, times,
// symlinks (absolute targets included) and hard links.
func TestUnpackRoundTrip(t *testing.T) {
	setuid := file("usr/bin/su", "su", 0o4755)
	setgid := file("usr/bin/wall", "wall", 0o2755)
	owned := file("home/u/f", "data", 0o640)
	owned.hdr.Uid, owned.hdr.Gid = 1000, 1000
	tb := tarOf(t,
		dir("./", 0o755),
		dir("usr/", 0o755), dir("usr/bin/", 0o755),
		setuid, setgid,
		file("usr/bin/tool", "#!/bin/sh\n", 0o755),
		hardlink("usr/bin/tool2", "usr/bin/tool"),
		symlink("usr/bin/cc", "/etc/alternatives/cc"),
		symlink("bin", "usr/bin"),
		dir("tmp/", 0o1777),
		dir("ro/", 0o555), file("ro/f", "r", 0o444),
		dir("home/", 0o755), dir("home/u/", 0o700), owned,
		file("usr/bin/tool", "#!/bin/sh\n", 0o755), // a duplicate file is replaced
		entry{hdr: tar.Header{Name: "pax_global_header", Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "x"}}},
	)
	top := t.TempDir()
	root := filepath.Join(top, "root")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	// A non-root user cannot empty the read-only ro/ that t.TempDir's
	// cleanup meets; removeAll can.
	t.Cleanup(func() { removeAll(root) })
	if err := Unpack(bytes.NewReader(tb), root); err != nil {
		t.Fatal(err)
	}
	checkNothingOutside(t, top)
	type got struct {
		Mode   os.FileMode
		Link   string
		Body   string
		Nlink  uint64
		Uid    uint32
		MTimed bool
	}
	read := func(rel string) got {
		p := filepath.Join(root, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		g := got{Mode: fi.Mode(), Nlink: uint64(st.Nlink), Uid: st.Uid}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			g.Link, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			g.Body = string(b)
			g.MTimed = fi.ModTime().Equal(mtime)
		case fi.IsDir():
			g.Nlink = 0
			g.MTimed = fi.ModTime().Equal(mtime)
		}
		return g
	}
	wantUID := uint32(os.Geteuid())
	ownedUID := wantUID
	if wantUID == 0 {
		ownedUID = 1000
	}
	want := map[string]got{
		".":             {Mode: os.ModeDir | 0o755, Uid: wantUID, MTimed: true},
		"usr/bin/su":    {Mode: 0o755, Body: "su", Nlink: 1, Uid: wantUID, MTimed: true},
		"usr/bin/wall":  {Mode: 0o755, Body: "wall", Nlink: 1, Uid: wantUID, MTimed: true},
		"usr/bin/tool":  {Mode: 0o755, Body: "#!/bin/sh\n", Nlink: 1, Uid: wantUID, MTimed: true},
		"usr/bin/tool2": {Mode: 0o755, Body: "#!/bin/sh\n", Nlink: 1, Uid: wantUID, MTimed: true},
		"usr/bin/cc":    {Mode: os.ModeSymlink | 0o777, Link: "/etc/alternatives/cc", Nlink: 1, Uid: wantUID},
		"bin":           {Mode: os.ModeSymlink | 0o777, Link: "usr/bin", Nlink: 1, Uid: wantUID},
		"tmp":           {Mode: os.ModeDir | os.ModeSticky | 0o777, Uid: wantUID, MTimed: true},
		"ro":            {Mode: os.ModeDir | 0o555, Uid: wantUID, MTimed: true},
		"ro/f":          {Mode: 0o444, Body: "r", Nlink: 1, Uid: wantUID, MTimed: true},
		"home/u/f":      {Mode: 0o640, Body: "data", Nlink: 1, Uid: ownedUID, MTimed: true},
	}
	for rel, w := range want {
		if diff := cmp.Diff(w, read(rel)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", rel, diff)
		}
	}
	// tool was replaced after tool2 linked it, so each has one link; a
	// link that stays is shared.
	tb2 := tarOf(t, file("a", "x", 0o644), hardlink("b", "a"))
	root2 := filepath.Join(t.TempDir(), "root")
	os.Mkdir(root2, 0o700)
	if err := Unpack(bytes.NewReader(tb2), root2); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(root2, "a"))
	b, _ := os.Stat(filepath.Join(root2, "b"))
	if !os.SameFile(a, b) {
		t.Errorf("hard link b is not the same file as a")
	}
}

func TestTreeDigest(t *testing.T) {
	mk := func(entries ...entry) string {
		root := filepath.Join(t.TempDir(), "root")
		os.Mkdir(root, 0o700)
		if err := Unpack(bytes.NewReader(tarOf(t, entries...)), root); err != nil {
			t.Fatal(err)
		}
		d, err := TreeDigest(root)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := mk(dir("./", 0o755), file("a", "x", 0o644), symlink("s", "/a"))
	tests := []struct {
		name    string
		entries []entry
		same    bool
	}{
		{"same", []entry{dir("./", 0o755), file("a", "x", 0o644), symlink("s", "/a")}, true},
		{"content", []entry{dir("./", 0o755), file("a", "y", 0o644), symlink("s", "/a")}, false},
		{"mode", []entry{dir("./", 0o755), file("a", "x", 0o600), symlink("s", "/a")}, false},
		{"target", []entry{dir("./", 0o755), file("a", "x", 0o644), symlink("s", "/b")}, false},
		{"name", []entry{dir("./", 0o755), file("b", "x", 0o644), symlink("s", "/a")}, false},
		{"extra", []entry{dir("./", 0o755), file("a", "x", 0o644), symlink("s", "/a"), dir("d/", 0o755)}, false},
	}
	for _, tc := range tests {
		if got := mk(tc.entries...); (got == base) != tc.same {
			t.Errorf("%s: TreeDigest = %s, base %s, want same = %v", tc.name, got, base, tc.same)
		}
	}
}

// FuzzUnpack unpacks arbitrary bytes: it must never panic nor write
// anything outside the target directory.
func FuzzUnpack(f *testing.F) {
	for _, tc := range hostileTars {
		if tc.name == "over the byte cap" {
			continue
		}
		f.Add(tarOf(f, tc.entries...))
	}
	f.Add(sparseTar(f))
	f.Add(tarOf(f, dir("a/", 0o755), symlink("l", ".."), file("a/f", "x", 0o4755), hardlink("h", "a/f")))
	f.Fuzz(func(t *testing.T, b []byte) {
		top := t.TempDir()
		root := filepath.Join(top, "root")
		if err := os.Mkdir(root, 0o700); err != nil {
			t.Fatal(err)
		}
		_ = Unpack(bytes.NewReader(b), root)
		checkNothingOutside(t, top)
		// Nothing setuid or setgid, nothing but dirs, files and symlinks.
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			if fi.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeDevice|os.ModeCharDevice|os.ModeNamedPipe|os.ModeSocket) != 0 {
				t.Errorf("%s has mode %v", p, fi.Mode())
			}
			return nil
		})
		removeAll(root)
	})
}
