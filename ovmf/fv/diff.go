package fv

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"

	"github.com/measure-cc/measure/ovmf"
)

// Module is one FFS file of an image, wherever it is nested.
type Module struct {
	// Path names the volumes (and sections) that hold the file, outermost
	// first, such as "fv@0x84000/file:9e21fd93.../GUID_DEFINED/FIRMWARE_VOLUME_IMAGE/fv@0x0".
	Path   string
	GUID   ovmf.GUID
	UI     string
	Type   FileType
	SHA256 [32]byte
	// Sections are the leaf sections' types and digests, in order.
	Sections []SectionDigest
	// Opaque is set when a section of the file could not be opened.
	Opaque bool
}

// SectionDigest is a leaf section's type and sha256.
type SectionDigest struct {
	Type   SectionType
	SHA256 [32]byte
}

// Name returns the UI name, or the GUID when the file has none.
func (m *Module) Name() string {
	if m.UI != "" {
		return m.UI
	}
	return m.GUID.String()
}

// Modules flattens volumes into their FFS files, outer files before the
// files nested in them.
func Modules(vols []Volume) []Module {
	var out []Module
	walkVolumes(vols, "", &out)
	return out
}

func walkVolumes(vols []Volume, prefix string, out *[]Module) {
	for _, v := range vols {
		vp := fmt.Sprintf("%sfv@%#x", prefix, v.Offset)
		if v.Name != (ovmf.GUID{}) {
			vp = fmt.Sprintf("%sfv:%s", prefix, v.Name)
		}
		if v.NotFFS {
			// One pseudo-module for the whole store, named by its file system.
			*out = append(*out, Module{Path: vp, GUID: v.Header.FileSystemGUID, UI: "(volume contents, not FFS)", SHA256: sha256.Sum256(v.Body)})
			continue
		}
		for _, f := range v.Files {
			m := Module{Path: vp, GUID: f.Header.Name, UI: f.UI, Type: f.Header.Type, SHA256: sha256.Sum256(f.Data)}
			leafSections(f.Sections, &m)
			*out = append(*out, m)
			walkSections(f.Sections, vp+"/"+f.Header.Name.String(), out)
		}
	}
}

func leafSections(secs []Section, m *Module) {
	for _, s := range secs {
		if s.Opaque {
			m.Opaque = true
		}
		if len(s.Volumes) > 0 {
			// The nested volume's files are modules of their own; here it
			// counts as one leaf.
			m.Sections = append(m.Sections, SectionDigest{Type: s.Type, SHA256: sha256.Sum256(s.Data)})
			continue
		}
		if len(s.Sections) > 0 {
			leafSections(s.Sections, m)
			continue
		}
		m.Sections = append(m.Sections, SectionDigest{Type: s.Type, SHA256: sha256.Sum256(s.Data)})
	}
}

func walkSections(secs []Section, prefix string, out *[]Module) {
	for _, s := range secs {
		p := prefix + "/" + s.Type.String()
		walkVolumes(s.Volumes, p+"/", out)
		walkSections(s.Sections, p, out)
	}
}

// Change is one difference between two images.
type Change struct {
	// Kind is "changed", "added" (only in b) or "removed" (only in a).
	Kind string
	A, B *Module
	// Sections names the leaf section types that differ, for "changed".
	Sections []string
}

// String describes the change in one line.
func (c Change) String() string {
	m := c.A
	if m == nil {
		m = c.B
	}
	s := fmt.Sprintf("%-7s %-24s %s %s in %s", c.Kind, m.Name(), m.GUID, m.Type, m.Path)
	if len(c.Sections) > 0 {
		s += " (sections: " + strings.Join(c.Sections, ", ") + ")"
	}
	return s
}

// Diff compares the modules of two images. Files are matched by volume
// path, GUID and occurrence; a file whose bytes are the same in both is not
// reported, nor are pad files (FFS_PAD), which only follow their
// neighbours' sizes.
func Diff(a, b []Module) []Change {
	a, b = withoutPads(a), withoutPads(b)
	key := func(ms []Module) (map[string]*Module, []string) {
		seen := map[string]int{}
		m := map[string]*Module{}
		var order []string
		for i := range ms {
			k := ms[i].Path + "|" + ms[i].GUID.String()
			n := seen[k]
			seen[k]++
			k = fmt.Sprintf("%s|%d", k, n)
			m[k] = &ms[i]
			order = append(order, k)
		}
		return m, order
	}
	ma, oa := key(a)
	mb, ob := key(b)
	var out []Change
	for _, k := range oa {
		x, y := ma[k], mb[k]
		if y == nil {
			out = append(out, Change{Kind: "removed", A: x})
			continue
		}
		if x.SHA256 == y.SHA256 {
			continue
		}
		out = append(out, Change{Kind: "changed", A: x, B: y, Sections: sectionChanges(x, y)})
	}
	for _, k := range ob {
		if ma[k] == nil {
			out = append(out, Change{Kind: "added", B: mb[k]})
		}
	}
	return out
}

func withoutPads(ms []Module) []Module {
	out := make([]Module, 0, len(ms))
	for _, m := range ms {
		if m.Type != filePad {
			out = append(out, m)
		}
	}
	return out
}

func sectionChanges(a, b *Module) []string {
	var out []string
	n := max(len(a.Sections), len(b.Sections))
	for i := 0; i < n; i++ {
		switch {
		case i >= len(a.Sections):
			out = append(out, "+"+b.Sections[i].Type.String())
		case i >= len(b.Sections):
			out = append(out, "-"+a.Sections[i].Type.String())
		case a.Sections[i] != b.Sections[i]:
			out = append(out, a.Sections[i].Type.String())
		}
	}
	if len(out) == 0 && (a.Opaque || b.Opaque) {
		out = append(out, "opaque encapsulation")
	}
	sort.Strings(out)
	return out
}

// ByteRanges returns the half-open ranges [start, end) where a and b differ,
// merging differences separated by at most gap equal bytes, and the
// differing byte count.
func ByteRanges(a, b []byte, gap int) (ranges [][2]int, n int) {
	l := max(len(a), len(b))
	start, last := -1, -1
	for i := 0; i < l; i++ {
		var x, y int = -1, -1
		if i < len(a) {
			x = int(a[i])
		}
		if i < len(b) {
			y = int(b[i])
		}
		if x == y {
			continue
		}
		n++
		if start >= 0 && i-last-1 > gap {
			ranges = append(ranges, [2]int{start, last + 1})
			start = -1
		}
		if start < 0 {
			start = i
		}
		last = i
	}
	if start >= 0 {
		ranges = append(ranges, [2]int{start, last + 1})
	}
	return ranges, n
}

// Equal reports whether two modules have the same bytes.
func (m *Module) Equal(o *Module) bool { return bytes.Equal(m.SHA256[:], o.SHA256[:]) }
