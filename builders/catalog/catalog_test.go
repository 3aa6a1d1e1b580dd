package catalog

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

type recipe struct{ name, body string }

func parse(b []byte) (recipe, error) {
	s := string(b)
	n, body, ok := strings.Cut(s, "\n")
	if !ok || !strings.HasPrefix(n, "name: ") {
		return recipe{}, errors.New("no name line")
	}
	return recipe{name: strings.TrimPrefix(n, "name: "), body: body}, nil
}

func name(r recipe) string { return r.name }

func TestLoadAndLookup(t *testing.T) {
	fsys := fstest.MapFS{
		"recipes/b.yaml":   {Data: []byte("name: b\nx")},
		"recipes/a.yaml":   {Data: []byte("name: a\ny")},
		"recipes/notes.md": {Data: []byte("ignored")},
	}
	all, err := Load(fsys, parse, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].name != "a" || all[1].name != "b" {
		t.Fatalf("Load = %+v, want a then b", all)
	}
	if r, err := Lookup(all, name, "b", "recipe", nil); err != nil || r.body != "x" {
		t.Errorf("Lookup(b) = %+v, %v", r, err)
	}
	errUnknown := errors.New("no such thing")
	_, err = Lookup(all, name, "c", "kernel recipe", errUnknown)
	if !errors.Is(err, errUnknown) || !strings.Contains(err.Error(), `kernel recipe "c"`) || !strings.Contains(err.Error(), "have a, b") {
		t.Errorf("Lookup(c) error = %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fsys    fstest.MapFS
		wantErr string
	}{
		{"unparsable", fstest.MapFS{"recipes/a.yaml": {Data: []byte("nope")}}, "embedded recipes/a.yaml: no name line"},
		{"name differs from file", fstest.MapFS{"recipes/a.yaml": {Data: []byte("name: b\n")}}, `name "b", want "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.fsys, parse, name)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Load error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
