// Package toolchain makes and caches the build root a firmware build runs
// in: a `debootstrap` of a named Debian suite with a list of packages, whose
// versions are checked against pins, stored as a single-layer OCI image in an
// OCI image layout and named by that image's digest. A Spec may instead name
// an image by digest to pull from a registry.
//
// The cache holds, under Dir:
//
//	oci/                 OCI image layout with every toolchain image
//	toolchains/KEY.json  the image digest made for Spec KEY (sha256 of the Spec)
//	roots/DIGEST/        the image's root file system, unpacked
//
// so a second build neither re-runs debootstrap nor re-unpacks. It does not
// run builds (see builders/sandbox and builders/firmware).
package toolchain

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/measure-cc/measure/builders/run"
)

// Label keys in the image config that describe the toolchain.
const (
	LabelSuite    = "cc.measure.toolchain.suite"
	LabelPackages = "cc.measure.toolchain.packages" // JSON []Package
)

// Spec names a toolchain.
type Spec struct {
	// Suite is the Debian suite to debootstrap, such as "trixie".
	Suite string `json:"suite"`
	// Mirror is the Debian archive URL.
	Mirror string `json:"mirror"`
	// Variant is debootstrap's --variant, such as "buildd".
	Variant string `json:"variant,omitempty"`
	// Packages are installed on top of the variant (debootstrap --include).
	Packages []string `json:"packages"`
	// Pins maps a package name to the exact version the root must hold;
	// a root that holds another version is an error, not a silent change.
	Pins map[string]string `json:"pins,omitempty"`
	// Image, when set, is an image reference by digest
	// (registry/repo@sha256:...) to pull instead of running debootstrap.
	Image string `json:"image,omitempty"`
}

// Key returns the cache key of s: the hex sha256 of its JSON form.
func (s *Spec) Key() string {
	c := *s
	c.Packages = append([]string(nil), s.Packages...)
	sort.Strings(c.Packages)
	b, _ := json.Marshal(c) // a struct of strings always marshals
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Package is one Debian package in a toolchain root.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	// SHA256 is the hex sha256 of the .deb that was installed, from the
	// archive's Packages index.
	SHA256 string `json:"sha256,omitempty"`
}

// Toolchain is a ready root.
type Toolchain struct {
	// Digest names the OCI image ("sha256:...").
	Digest string
	// Root is the unpacked root file system on the host.
	Root string
	// Packages lists every package in the root, sorted by name.
	Packages []Package
	// Spec is what was asked for.
	Spec Spec
}

// Cache makes and keeps toolchains.
type Cache struct {
	// Dir is the cache directory.
	Dir string
	// Runner runs debootstrap, dpkg-query and tar.
	Runner run.Runner
	// Log, when not nil, receives the output of the commands.
	Log io.Writer
	// Progress, when not nil, receives one line per step.
	Progress io.Writer
}

func (c *Cache) progressf(format string, a ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", a...)
	}
}

func (c *Cache) recordPath(key string) string {
	return filepath.Join(c.Dir, "toolchains", key+".json")
}

func (c *Cache) rootPath(digest string) string {
	return filepath.Join(c.Dir, "roots", strings.ReplaceAll(digest, ":", "-"))
}

type record struct {
	Digest   string    `json:"digest"`
	Packages []Package `json:"packages"`
}

// Ensure returns the toolchain for s, making it if the cache lacks it.
func (c *Cache) Ensure(ctx context.Context, s Spec) (*Toolchain, error) {
	key := s.Key()
	if b, err := os.ReadFile(c.recordPath(key)); err == nil {
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("toolchain record %q: %w", c.recordPath(key), err)
		}
		root := c.rootPath(r.Digest)
		if _, err := os.Stat(filepath.Join(root, "usr")); err == nil {
			c.progressf("toolchain %s (cached)", r.Digest)
			return &Toolchain{Digest: r.Digest, Root: root, Packages: r.Packages, Spec: s}, nil
		}
		// The record is there but the root is gone: unpack it from the layout.
		if img, err := c.layoutImage(r.Digest); err == nil {
			return c.unpack(ctx, s, img)
		}
	}
	if s.Image != "" {
		return c.pull(ctx, s)
	}
	return c.bootstrap(ctx, s)
}

// bootstrap runs debootstrap, checks the pins, and stores the root as an
// OCI image.
func (c *Cache) bootstrap(ctx context.Context, s Spec) (*Toolchain, error) {
	if s.Suite == "" || s.Mirror == "" {
		return nil, fmt.Errorf("toolchain: suite %q and mirror %q must be set", s.Suite, s.Mirror)
	}
	key := s.Key()
	tmp := filepath.Join(c.Dir, "tmp", key)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	root := filepath.Join(tmp, "root")
	args := []string{"debootstrap"}
	if s.Variant != "" {
		args = append(args, "--variant="+s.Variant)
	}
	if len(s.Packages) > 0 {
		args = append(args, "--include="+strings.Join(s.Packages, ","))
	}
	args = append(args, s.Suite, root, s.Mirror)
	c.progressf("debootstrap %s (%d extra packages)", s.Suite, len(s.Packages))
	if err := c.Runner.Run(ctx, &run.Cmd{Args: args, Env: hostEnv(), Stdout: c.Log, Stderr: c.Log}); err != nil {
		return nil, err
	}
	pkgs, err := c.packages(ctx, root)
	if err != nil {
		return nil, err
	}
	if err := checkPins(pkgs, s.Pins); err != nil {
		return nil, err
	}
	if err := addDebHashes(root, pkgs); err != nil {
		return nil, err
	}
	// The .debs are described by their hashes; the root does not need them.
	debs, _ := filepath.Glob(filepath.Join(root, "var/cache/apt/archives/*.deb"))
	for _, d := range debs {
		if err := os.Remove(d); err != nil {
			return nil, err
		}
	}
	c.progressf("packing the root into an OCI image")
	layerPath := filepath.Join(tmp, "layer.tar")
	if err := c.Runner.Run(ctx, &run.Cmd{
		Args: []string{"tar", "--sort=name", "--numeric-owner", "--xattrs", "--one-file-system",
			"--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*",
			"-C", root, "-cf", layerPath, "."},
		Env: hostEnv(), Stdout: c.Log, Stderr: c.Log,
	}); err != nil {
		return nil, err
	}
	img, err := Image(s, pkgs, layerPath)
	if err != nil {
		return nil, err
	}
	d, err := c.store(key, img, pkgs)
	if err != nil {
		return nil, err
	}
	final := c.rootPath(d)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(final); err != nil {
		return nil, err
	}
	if err := os.Rename(root, final); err != nil {
		return nil, err
	}
	_ = os.RemoveAll(tmp)
	c.progressf("toolchain %s", d)
	return &Toolchain{Digest: d, Root: final, Packages: pkgs, Spec: s}, nil
}

// Image makes the toolchain image: one gzip layer from the tar file at
// layerPath, and a config whose labels carry the suite and the package list.
func Image(s Spec, pkgs []Package, layerPath string) (v1.Image, error) {
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, fmt.Errorf("toolchain layer %q: %w", layerPath, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	pj, err := json.Marshal(pkgs)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Labels = map[string]string{LabelSuite: s.Suite, LabelPackages: string(pj)}
	return mutate.ConfigFile(img, cfg)
}

func (c *Cache) store(key string, img v1.Image, pkgs []Package) (string, error) {
	p, err := c.layout()
	if err != nil {
		return "", err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": "toolchain-" + key[:16],
	})); err != nil {
		return "", fmt.Errorf("writing toolchain image to %q: %w", p, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(record{Digest: d.String(), Packages: pkgs}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(c.recordPath(key)), 0o755); err != nil {
		return "", err
	}
	return d.String(), os.WriteFile(c.recordPath(key), b, 0o644)
}

func (c *Cache) layout() (layout.Path, error) {
	dir := filepath.Join(c.Dir, "oci")
	if p, err := layout.FromPath(dir); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return layout.Write(dir, empty.Index)
}

func (c *Cache) layoutImage(digest string) (v1.Image, error) {
	p, err := c.layout()
	if err != nil {
		return nil, err
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, err
	}
	return p.Image(h)
}

// pull fetches s.Image from its registry, checks its digest, and unpacks it.
func (c *Cache) pull(ctx context.Context, s Spec) (*Toolchain, error) {
	ref, err := name.NewDigest(s.Image)
	if err != nil {
		return nil, fmt.Errorf("toolchain image %q: want a reference by digest: %w", s.Image, err)
	}
	c.progressf("pulling %s", ref)
	img, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("pulling toolchain image %q: %w", s.Image, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	if d.String() != ref.DigestStr() {
		return nil, fmt.Errorf("toolchain image %q: digest %s, want %s", s.Image, d, ref.DigestStr())
	}
	pkgs, err := ImagePackages(img)
	if err != nil {
		return nil, err
	}
	if err := checkPins(pkgs, s.Pins); err != nil {
		return nil, err
	}
	if _, err := c.store(s.Key(), img, pkgs); err != nil {
		return nil, err
	}
	return c.unpack(ctx, s, img)
}

// ImagePackages returns the package list a toolchain image's config carries.
func ImagePackages(img v1.Image) ([]Package, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	var pkgs []Package
	if err := json.Unmarshal([]byte(cfg.Config.Labels[LabelPackages]), &pkgs); err != nil {
		return nil, fmt.Errorf("toolchain image label %q: %w", LabelPackages, err)
	}
	return pkgs, nil
}

// unpack extracts img's layers with tar into the cache's roots.
func (c *Cache) unpack(ctx context.Context, s Spec, img v1.Image) (*Toolchain, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	pkgs, err := ImagePackages(img)
	if err != nil {
		return nil, err
	}
	root := c.rootPath(d.String())
	tmp := root + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	c.progressf("unpacking toolchain %s", d)
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("toolchain %s layer %d: %w", d, i, err)
		}
		err = c.Runner.Run(ctx, &run.Cmd{
			Args: []string{"tar", "--numeric-owner", "--xattrs", "-xpf", "-", "-C", tmp},
			Env:  hostEnv(), Stdin: rc, Stdout: c.Log, Stderr: c.Log,
		})
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, root); err != nil {
		return nil, err
	}
	return &Toolchain{Digest: d.String(), Root: root, Packages: pkgs, Spec: s}, nil
}

// packages lists the installed packages of root with dpkg-query.
func (c *Cache) packages(ctx context.Context, root string) ([]Package, error) {
	var out bytes.Buffer
	err := c.Runner.Run(ctx, &run.Cmd{
		Args: []string{"dpkg-query", "--admindir=" + filepath.Join(root, "var/lib/dpkg"), "-W",
			"-f=${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"},
		Env: hostEnv(), Stdout: &out, Stderr: c.Log,
	})
	if err != nil {
		return nil, err
	}
	return ParseDpkgQuery(out.Bytes())
}

// ParseDpkgQuery parses lines "STATUS\tNAME\tVERSION\tARCH", keeping the
// installed ("ii") ones, sorted by name.
func ParseDpkgQuery(b []byte) ([]Package, error) {
	var pkgs []Package
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("dpkg-query line %d %q: %d fields, want 4", n, line, len(f))
		}
		if strings.TrimSpace(f[0]) != "ii" {
			continue
		}
		pkgs = append(pkgs, Package{Name: f[1], Version: f[2], Arch: f[3]})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	return pkgs, sc.Err()
}

// ErrPin reports a package whose version is not the pinned one.
var ErrPin = errors.New("toolchain package version differs from its pin")

func checkPins(pkgs []Package, pins map[string]string) error {
	have := map[string]string{}
	for _, p := range pkgs {
		have[p.Name] = p.Version
	}
	names := make([]string, 0, len(pins))
	for n := range pins {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		got, ok := have[n]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: %q is not installed, want %s", ErrPin, n, pins[n]))
		case got != pins[n]:
			errs = append(errs, fmt.Errorf("%w: %q is %s, want %s", ErrPin, n, got, pins[n]))
		}
	}
	return errors.Join(errs...)
}

// addDebHashes fills each package's SHA256 from the .deb debootstrap left
// in var/cache/apt/archives.
func addDebHashes(root string, pkgs []Package) error {
	dir := filepath.Join(root, "var/cache/apt/archives")
	for i := range pkgs {
		p := &pkgs[i]
		v := p.Version
		if j := strings.IndexByte(v, ':'); j >= 0 {
			v = v[:j] + "%3a" + v[j+1:]
		}
		f, err := os.Open(filepath.Join(dir, p.Name+"_"+v+"_"+p.Arch+".deb"))
		if errors.Is(err, os.ErrNotExist) {
			continue // not downloaded by debootstrap: left without a hash
		}
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		p.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	return nil
}

func hostEnv() []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "TZ=UTC"}
}
