// Package catalog loads the YAML recipes a builder embeds: every
// recipes/*.yaml of an fs.FS, parsed by the builder, named after its file,
// sorted by name, and looked up by name. It is the one copy of what the
// firmware, kernel and guest builders share about their embedded recipes.
package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Glob is where a builder's embedded recipes sit in its fs.FS.
const Glob = "recipes/*.yaml"

// Load parses every recipe in fsys with parse and returns them sorted by
// name. A recipe whose name differs from its file name is an error.
func Load[T any](fsys fs.FS, parse func([]byte) (T, error), name func(T) string) ([]T, error) {
	files, err := fs.Glob(fsys, Glob)
	if err != nil {
		return nil, err
	}
	var out []T
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		r, err := parse(b)
		if err != nil {
			return nil, fmt.Errorf("embedded %s: %w", f, err)
		}
		if want := strings.TrimSuffix(path.Base(f), ".yaml"); name(r) != want {
			return nil, fmt.Errorf("embedded %s: name %q, want %q", f, name(r), want)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return name(out[i]) < name(out[j]) })
	return out, nil
}

// Lookup returns the recipe called want among all. Otherwise its error wraps
// unknown and lists the names there are; kind ("recipe", "kernel recipe")
// starts the message.
func Lookup[T any](all []T, name func(T) string, want, kind string, unknown error) (T, error) {
	var names []string
	for _, r := range all {
		if name(r) == want {
			return r, nil
		}
		names = append(names, name(r))
	}
	var zero T
	if unknown == nil {
		unknown = errors.New("no embedded recipe of that name")
	}
	return zero, fmt.Errorf("%s %q: %w (have %s)", kind, want, unknown, strings.Join(names, ", "))
}
