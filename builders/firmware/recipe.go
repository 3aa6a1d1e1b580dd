// Package firmware builds edk2 firmware (OVMF and its confidential-computing
// variants) bit for bit from a Recipe: pinned source tarballs and patches, a
// pinned toolchain root (builders/toolchain), the platform DSC with its build
// flags and PCDs, and SOURCE_DATE_EPOCH. The build runs in a sandbox
// (builders/sandbox) without network, at a fixed path, as a fixed user.
//
// A build writes the firmware files, the inputs of its provenance statement
// and a build log; Check builds twice under varied outside conditions and
// compares the bytes. It does not parse firmware volumes (see ovmf/fv) nor
// encode in-toto statements (see provenance).
package firmware

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/measure-cc/measure/builders/catalog"
	"github.com/measure-cc/measure/builders/toolchain"
)

//go:embed recipes/*.yaml recipes/patches/*
var embedded embed.FS

// Recipe pins everything that shapes a firmware build. It is read from YAML;
// docs/builders.md documents each field.
type Recipe struct {
	// Name identifies the recipe ("debian-trixie").
	Name string `json:"name"`
	// Description says what the recipe builds, in one line.
	Description string `json:"description"`
	// Sources are unpacked, in order, into Build.Dir.
	Sources []Source `json:"sources"`
	// Patches are applied after the sources are unpacked.
	Patches Patches `json:"patches,omitempty"`
	// SourceDateEpoch is SOURCE_DATE_EPOCH for every step.
	SourceDateEpoch int64 `json:"sourceDateEpoch"`
	// Toolchain names the build root.
	Toolchain toolchain.Spec `json:"toolchain"`
	// Build says how edk2's build is run.
	Build Build `json:"build"`
	// Outputs are the files the build keeps.
	Outputs []Output `json:"outputs"`
}

// Source is a tarball pinned by its sha256.
type Source struct {
	// URL is where the tarball is downloaded from.
	URL string `json:"url"`
	// SHA256 is its hex sha256; a download that differs is an error.
	SHA256 string `json:"sha256"`
	// Strip is tar's --strip-components.
	Strip int `json:"strip,omitempty"`
	// Dir is where it is unpacked, relative to Build.Dir; empty is Build.Dir.
	Dir string `json:"dir,omitempty"`
}

// FileName returns the last element of the URL, unescaped for the few
// escapes Debian's pool uses.
func (s Source) FileName() string {
	return strings.NewReplacer("%2B", "+", "%2b", "+", "%3A", ":", "%3a", ":").Replace(path.Base(s.URL))
}

// Patches are applied with patch -p1 from Build.Dir.
type Patches struct {
	// Series is a quilt series file inside the unpacked tree (such as
	// debian/patches/series); each patch it names, relative to the series
	// file's directory, is applied in order. Its content is pinned by the
	// source tarball that carries it.
	Series string `json:"series,omitempty"`
	// Files are patches embedded in measure (builders/firmware/recipes/patches),
	// applied after the series, in order.
	Files []string `json:"files,omitempty"`
}

// Build is the edk2 build.
type Build struct {
	// Dir is the fixed path of the source tree inside the sandbox; debug
	// paths in the PE files embed it.
	Dir string `json:"dir"`
	// Env is added to the sandbox environment of every step.
	Env map[string]string `json:"env,omitempty"`
	// Setup are shell lines run after `. ./edksetup.sh` and before build
	// (building BaseTools, making grub.efi).
	Setup []string `json:"setup,omitempty"`
	// Platform is the DSC, relative to Dir.
	Platform string `json:"platform"`
	// Arch is build -a, once per element.
	Arch []string `json:"arch"`
	// ToolChain is build -t, such as GCC5.
	ToolChain string `json:"toolChain"`
	// Target is build -b: RELEASE, DEBUG or NOOPT.
	Target string `json:"target"`
	// Defines are build -D NAME[=VALUE], in order.
	Defines []string `json:"defines,omitempty"`
	// PCDs are build --pcd NAME=VALUE, in order, exactly as build receives
	// them (after any shell quoting is undone).
	PCDs []string `json:"pcds,omitempty"`
}

// Output is one file the build keeps.
type Output struct {
	// From is the path relative to Build.Dir.
	From string `json:"from"`
	// Name is the file name in the output directory.
	Name string `json:"name"`
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	argRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*(=.*)?$`)
)

// ParseRecipe parses and validates a YAML recipe. Unknown fields are errors.
func ParseRecipe(data []byte) (*Recipe, error) {
	var r Recipe
	if err := yaml.UnmarshalStrict(data, &r); err != nil {
		return nil, fmt.Errorf("recipe: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks that r pins what it must.
func (r *Recipe) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("recipe %q: "+format, append([]any{r.Name}, a...)...))
	}
	if !nameRE.MatchString(r.Name) {
		bad("name must match %s", nameRE)
	}
	if len(r.Sources) == 0 {
		bad("no sources")
	}
	for i, s := range r.Sources {
		if !strings.HasPrefix(s.URL, "https://") && !strings.HasPrefix(s.URL, "http://") {
			bad("source %d: url %q is not http(s)", i, s.URL)
		}
		if !sha256RE.MatchString(s.SHA256) {
			bad("source %d: sha256 %q is not 64 lower-case hex digits", i, s.SHA256)
		}
		if s.Strip < 0 || strings.Contains(s.Dir, "..") || path.IsAbs(s.Dir) {
			bad("source %d: strip %d, dir %q: want strip >= 0 and a relative dir", i, s.Strip, s.Dir)
		}
	}
	for _, f := range r.Patches.Files {
		if _, err := fs.Stat(embedded, "recipes/patches/"+f); err != nil || strings.Contains(f, "/") {
			bad("patch %q is not embedded in recipes/patches", f)
		}
	}
	if strings.Contains(r.Patches.Series, "..") || path.IsAbs(r.Patches.Series) {
		bad("patch series %q: want a path inside the tree", r.Patches.Series)
	}
	if r.SourceDateEpoch <= 0 {
		bad("sourceDateEpoch %d: want a positive time", r.SourceDateEpoch)
	}
	if r.Toolchain.Image == "" && (r.Toolchain.Suite == "" || r.Toolchain.Mirror == "") {
		bad("toolchain needs an image, or a suite and a mirror")
	}
	if r.Toolchain.Image == "" && len(r.Toolchain.Pins) == 0 {
		bad("toolchain pins no package version")
	}
	if err := r.Toolchain.Validate(); err != nil {
		bad("%v", err)
	}
	b := r.Build
	if !path.IsAbs(b.Dir) || path.Clean(b.Dir) != b.Dir || b.Dir == "/" {
		bad("build dir %q: want a clean absolute path", b.Dir)
	}
	if b.Platform == "" || len(b.Arch) == 0 || b.ToolChain == "" || b.Target == "" {
		bad("build needs platform, arch, toolChain and target")
	}
	for _, d := range b.Defines {
		if !argRE.MatchString(d) {
			bad("define %q: want NAME or NAME=VALUE", d)
		}
	}
	for _, p := range b.PCDs {
		if !argRE.MatchString(p) || !strings.Contains(p, "=") {
			bad("pcd %q: want NAME=VALUE", p)
		}
	}
	for k := range b.Env {
		if !argRE.MatchString(k) || strings.Contains(k, "=") {
			bad("env name %q", k)
		}
	}
	if len(r.Outputs) == 0 {
		bad("no outputs")
	}
	for _, o := range r.Outputs {
		if o.From == "" || path.IsAbs(o.From) || strings.Contains(o.From, "..") || o.Name == "" || strings.Contains(o.Name, "/") {
			bad("output %q -> %q: want a relative path and a file name", o.From, o.Name)
		}
	}
	if len(errs) == 0 {
		// What every build shares (paths in the work tree, output names)
		// is the engine's to check.
		if err := r.Job(0).Validate(); err != nil {
			bad("%v", err)
		}
	}
	return errors.Join(errs...)
}

// Recipes returns the embedded recipes, sorted by name.
func Recipes() ([]*Recipe, error) {
	return catalog.Load(embedded, ParseRecipe, recipeName)
}

func recipeName(r *Recipe) string { return r.Name }

// DefaultRecipe is the recipe `measure build ovmf` uses without --recipe.
const DefaultRecipe = "debian-trixie"

// ErrUnknownRecipe reports a recipe name that is not embedded.
var ErrUnknownRecipe = errors.New("no embedded recipe of that name")

// LookupRecipe returns the embedded recipe called name.
func LookupRecipe(name string) (*Recipe, error) {
	rs, err := Recipes()
	if err != nil {
		return nil, err
	}
	return catalog.Lookup(rs, recipeName, name, "recipe", ErrUnknownRecipe)
}

// RecipeYAML returns the YAML text of the embedded recipe called name, to
// start a recipe of one's own from.
func RecipeYAML(name string) ([]byte, error) {
	if _, err := LookupRecipe(name); err != nil {
		return nil, err
	}
	return embedded.ReadFile("recipes/" + name + ".yaml")
}

// EmbeddedPatch returns the content of an embedded patch.
func EmbeddedPatch(name string) ([]byte, error) {
	return embedded.ReadFile("recipes/patches/" + name)
}

// patchDigest returns the hex sha256 of an embedded patch.
func patchDigest(name string) (string, error) {
	b, err := EmbeddedPatch(name)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}
