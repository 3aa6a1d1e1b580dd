package fv

import "github.com/measure-cc/measure/ovmf"

// FindFile returns the first FFS file named name and the volume that holds
// it, searching nested volumes (FIRMWARE_VOLUME_IMAGE sections, opened
// encapsulations) depth first; nil, nil when there is none.
func FindFile(vols []Volume, name ovmf.GUID) (*Volume, *File) {
	return findFile(vols, func(f *File) bool { return f.Header.Name == name })
}

// FindFileByUI is FindFile by the name of a file's USER_INTERFACE section.
func FindFileByUI(vols []Volume, ui string) (*Volume, *File) {
	return findFile(vols, func(f *File) bool { return f.UI == ui })
}

func findFile(vols []Volume, match func(*File) bool) (*Volume, *File) {
	for i := range vols {
		v := &vols[i]
		for j := range v.Files {
			f := &v.Files[j]
			if match(f) {
				return v, f
			}
			if nv, nf := findInSections(f.Sections, match); nf != nil {
				return nv, nf
			}
		}
	}
	return nil, nil
}

func findInSections(secs []Section, match func(*File) bool) (*Volume, *File) {
	for i := range secs {
		if v, f := findFile(secs[i].Volumes, match); f != nil {
			return v, f
		}
		if v, f := findInSections(secs[i].Sections, match); f != nil {
			return v, f
		}
	}
	return nil, nil
}

// LeafSections returns the sections of type t in f, looking inside
// encapsulation sections but not into nested volumes.
func (f *File) LeafSections(t SectionType) []Section {
	var out []Section
	var walk func([]Section)
	walk = func(secs []Section) {
		for _, s := range secs {
			if s.Type == t {
				out = append(out, s)
			}
			walk(s.Sections)
		}
	}
	walk(f.Sections)
	return out
}
