// Package kernel builds a Linux guest kernel bit for bit from a Recipe: a
// source package pinned by sha256 (Debian's linux-source binary package,
// which carries the patched tree as a tarball), a base configuration
// (tinyconfig) and a pinned config fragment, KBUILD_BUILD_TIMESTAMP, USER,
// HOST and VERSION and SOURCE_DATE_EPOCH, and a pinned toolchain root
// (builders/toolchain). The build runs in the same sandbox as the firmware
// builds (builders/sandbox): no network, a fixed path, user and hostname.
//
// A build writes the kernel image and its .config, a build log and the
// inputs of an SLSA provenance statement; Check builds twice under varied
// outside conditions and compares the bytes. It does not build initramfs
// archives (see builders/initramfs) nor compute measurements.
package kernel

import (
	"embed"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/measure-cc/measure/builders/catalog"
	"github.com/measure-cc/measure/builders/toolchain"
)

//go:embed recipes/*.yaml
var embedded embed.FS

// Recipe pins everything that shapes a kernel build. It is read from YAML;
// docs/guest.md documents each field.
type Recipe struct {
	// Name identifies the recipe ("cvm-minimal").
	Name string `json:"name"`
	// Description says what the recipe builds, in one line.
	Description string `json:"description"`
	// Source is the kernel source, pinned by its sha256.
	Source Source `json:"source"`
	// SourceDateEpoch is SOURCE_DATE_EPOCH for the build.
	SourceDateEpoch int64 `json:"sourceDateEpoch"`
	// Toolchain names the build root.
	Toolchain toolchain.Spec `json:"toolchain"`
	// Build says how the kernel is configured and built.
	Build Build `json:"build"`
	// Outputs are the files the build keeps.
	Outputs []Output `json:"outputs"`
}

// Source is the kernel source: a tarball, or a Debian package that carries
// one.
type Source struct {
	// URL is where the file is downloaded from.
	URL string `json:"url"`
	// SHA256 is its hex sha256; a download that differs is an error.
	SHA256 string `json:"sha256"`
	// Tarball, when set, says that URL is a .deb and names the source
	// tarball inside its data (usr/src/linux-source-6.12.tar.xz).
	Tarball string `json:"tarball,omitempty"`
	// Strip is tar's --strip-components for the source tarball.
	Strip int `json:"strip,omitempty"`
}

// FileName returns the last element of the URL, unescaped for the few
// escapes Debian's pool uses.
func (s Source) FileName() string {
	return strings.NewReplacer("%2B", "+", "%2b", "+", "%3A", ":", "%3a", ":", "%7E", "~", "%7e", "~").Replace(path.Base(s.URL))
}

// Build is the kernel's configuration and make.
type Build struct {
	// Dir is the fixed path of the source tree inside the sandbox.
	Dir string `json:"dir"`
	// Arch is make's ARCH (x86_64).
	Arch string `json:"arch"`
	// BaseConfig is the make target that writes the starting .config
	// (tinyconfig, defconfig).
	BaseConfig string `json:"baseConfig"`
	// Config is the fragment merged on top, one .config line each:
	// CONFIG_X=value or "# CONFIG_X is not set". After olddefconfig, every
	// line must hold in .config, or the build fails naming it.
	Config []string `json:"config"`
	// Target is the make target that builds the image (bzImage).
	Target string `json:"target"`
	// Timestamp, User and Host are KBUILD_BUILD_TIMESTAMP, _USER and _HOST:
	// what `uname -v` and /proc/version show.
	Timestamp string `json:"timestamp"`
	User      string `json:"user"`
	Host      string `json:"host"`
	// Env is added to the sandbox environment.
	Env map[string]string `json:"env,omitempty"`
}

// Output is one file the build keeps.
type Output struct {
	// From is the path relative to Build.Dir.
	From string `json:"from"`
	// Name is the file name in the output directory.
	Name string `json:"name"`
}

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	sha256RE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	configRE  = regexp.MustCompile(`^(CONFIG_[A-Za-z0-9_]+=("[^"\\]*"|[^\s"]+)|# CONFIG_[A-Za-z0-9_]+ is not set)$`)
	targetRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	kbuildRE  = regexp.MustCompile(`^[A-Za-z0-9 :+.,_-]+$`)
)

// ParseRecipe parses and validates a YAML recipe. Unknown fields are errors.
func ParseRecipe(data []byte) (*Recipe, error) {
	var r Recipe
	if err := yaml.UnmarshalStrict(data, &r); err != nil {
		return nil, fmt.Errorf("kernel recipe: %w", err)
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
		errs = append(errs, fmt.Errorf("kernel recipe %q: "+format, append([]any{r.Name}, a...)...))
	}
	if !nameRE.MatchString(r.Name) {
		bad("name must match %s", nameRE)
	}
	s := r.Source
	if !strings.HasPrefix(s.URL, "https://") && !strings.HasPrefix(s.URL, "http://") {
		bad("source url %q is not http(s)", s.URL)
	}
	if !sha256RE.MatchString(s.SHA256) {
		bad("source sha256 %q is not 64 lower-case hex digits", s.SHA256)
	}
	if s.Strip < 0 || path.IsAbs(s.Tarball) || strings.Contains(s.Tarball, "..") {
		bad("source strip %d, tarball %q: want strip >= 0 and a relative path", s.Strip, s.Tarball)
	}
	if s.Tarball != "" && !strings.HasSuffix(s.FileName(), ".deb") {
		bad("source tarball %q is set but %q is not a .deb", s.Tarball, s.FileName())
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
	if !path.IsAbs(b.Dir) || path.Clean(b.Dir) != b.Dir || b.Dir == "/" || b.Dir == "/build" || strings.HasPrefix(b.Dir, srcDir) {
		bad("build dir %q: want a clean absolute path below /build, outside %s", b.Dir, srcDir)
	}
	for _, f := range [][2]string{{"arch", b.Arch}, {"baseConfig", b.BaseConfig}, {"target", b.Target}} {
		if !targetRE.MatchString(f[1]) {
			bad("build %s %q: want a make word", f[0], f[1])
		}
	}
	if len(b.Config) == 0 {
		bad("build config fragment is empty")
	}
	seen := map[string]bool{}
	for _, c := range b.Config {
		if !configRE.MatchString(c) {
			bad("config line %q: want CONFIG_X=value or \"# CONFIG_X is not set\"", c)
			continue
		}
		n := ConfigName(c)
		if seen[n] {
			bad("config %s is set twice", n)
		}
		seen[n] = true
	}
	for _, f := range [][2]string{{"timestamp", b.Timestamp}, {"user", b.User}, {"host", b.Host}} {
		if !kbuildRE.MatchString(f[1]) {
			bad("build %s %q: want letters, digits, spaces and :+.,_-", f[0], f[1])
		}
	}
	for _, k := range sortedKeys(b.Env) {
		if !envNameRE.MatchString(k) {
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
			errs = append(errs, fmt.Errorf("kernel recipe %q: %w", r.Name, err))
		}
	}
	return errors.Join(errs...)
}

// ConfigName returns the option a fragment line sets (CONFIG_X).
func ConfigName(line string) string {
	if n, ok := strings.CutPrefix(line, "# "); ok {
		return strings.TrimSuffix(n, " is not set")
	}
	n, _, _ := strings.Cut(line, "=")
	return n
}

// Recipes returns the embedded recipes, sorted by name.
func Recipes() ([]*Recipe, error) {
	return catalog.Load(embedded, ParseRecipe, recipeName)
}

func recipeName(r *Recipe) string { return r.Name }

// DefaultRecipe is the recipe `measure build kernel` uses without --recipe.
const DefaultRecipe = "cvm-minimal"

// ErrUnknownRecipe reports a recipe name that is not embedded.
var ErrUnknownRecipe = errors.New("no embedded kernel recipe of that name")

// LookupRecipe returns the embedded recipe called name.
func LookupRecipe(name string) (*Recipe, error) {
	rs, err := Recipes()
	if err != nil {
		return nil, err
	}
	return catalog.Lookup(rs, recipeName, name, "kernel recipe", ErrUnknownRecipe)
}

// RecipeYAML returns the YAML text of the embedded kernel recipe called name,
// to start a recipe of one's own from.
func RecipeYAML(name string) ([]byte, error) {
	if _, err := LookupRecipe(name); err != nil {
		return nil, err
	}
	return embedded.ReadFile("recipes/" + name + ".yaml")
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
