package firmware

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) File {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := CopyOut(p, p+".out")
		if err != nil {
			t.Fatal(err)
		}
		f.Name = strings.TrimSuffix(name, filepath.Ext(name))
		return f
	}
	same1, same2 := write("same.a", "abc"), write("same.b", "abc")
	d1, d2 := write("diff.a", "abcdef"), write("diff.b", "abXdeY")
	l1, l2 := write("len.a", "abc"), write("len.b", "abcd")
	ms := Compare([]File{same1, d1, l1, same1}, []File{same2, d2, l2})
	var got []string
	for _, m := range ms {
		got = append(got, m.Reason)
	}
	want := []string{"2 bytes differ, the first at 0x2", "sizes 3 and 4", "missing from the second build"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Compare reasons = %q, want %q", got, want)
	}
	if ms := Compare([]File{same1}, []File{same2, d2}); len(ms) != 1 || ms[0].Reason != "missing from the first build" {
		t.Errorf("Compare with an extra second file = %+v", ms)
	}
}
