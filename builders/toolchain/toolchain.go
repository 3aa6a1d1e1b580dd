// Package toolchain makes and caches the build root a firmware or kernel
// build runs in: an mmdebstrap (unshare mode, so no host mounts and no
// root needed beyond /etc/subuid ranges) of a named Debian suite with a
// list of packages, whose versions are checked against pins, stored as a
// single-layer OCI image in an OCI image layout and named by that image's
// digest. The same Spec gives the same tarball and so the same digest:
// mmdebstrap runs with a fixed SOURCE_DATE_EPOCH. A Spec may instead name
// an image by digest to pull from a registry; every blob is fetched once,
// checked against its digest, and extracted only from the checked copy.
//
// The cache holds, under Dir (directories 0700):
//
//	toolchain.lock       flock held by one Ensure at a time
//	oci/                 OCI image layout with every toolchain image
//	toolchains/KEY.json  what was verified for Spec KEY (sha256 of the Spec):
//	                     image, layer and diffID digests, packages, and the
//	                     TreeDigest of the unpacked root; written last
//	roots/DIGEST/        the image's root file system, unpacked
//	tmp/                 work of the Ensure in progress; emptied by the next
//
// A root is used only when its TreeDigest matches its record; otherwise it
// is unpacked again from the layout (whose blobs are checked again) or
// rebuilt. Roots are extracted in Go (see Unpack), never by tar.
//
// It does not run builds (see builders/sandbox and builders/firmware).
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

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/internal/atomicfile"
)

// Label keys in the image config that describe the toolchain.
const (
	LabelSuite    = "cc.measure.toolchain.suite"
	LabelPackages = "cc.measure.toolchain.packages" // JSON []Package
)

// DefaultSourceDateEpoch is the SOURCE_DATE_EPOCH mmdebstrap runs with
// when a Spec sets none: 2025-01-01T00:00:00Z. Any fixed value makes the
// tarball reproducible; this one only needs to stay the same.
const DefaultSourceDateEpoch = 1735689600

// Spec names a toolchain.
type Spec struct {
	// Suite is the Debian suite to bootstrap, such as "trixie".
	Suite string `json:"suite"`
	// Mirror is the Debian archive URL.
	Mirror string `json:"mirror"`
	// Variant is mmdebstrap's --variant, such as "buildd".
	Variant string `json:"variant,omitempty"`
	// Packages are installed on top of the variant (mmdebstrap --include).
	Packages []string `json:"packages"`
	// Pins maps a package name to the exact version the root must hold;
	// a root that holds another version is an error, not a silent change.
	Pins map[string]string `json:"pins,omitempty"`
	// Image, when set, is an image reference by digest
	// (registry/repo@sha256:...) to pull instead of running mmdebstrap.
	Image string `json:"image,omitempty"`
	// SourceDateEpoch is the SOURCE_DATE_EPOCH mmdebstrap runs with, which
	// sets the tarball's times; zero means DefaultSourceDateEpoch.
	SourceDateEpoch int64 `json:"sourceDateEpoch,omitempty"`
}

// Key returns the cache key of s: the hex sha256 of its JSON form.
func (s *Spec) Key() string {
	c := *s
	c.Packages = append([]string(nil), s.Packages...)
	sort.Strings(c.Packages)
	b, _ := json.Marshal(c) // a struct of strings and numbers always marshals
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *Spec) sourceDateEpoch() int64 {
	if s.SourceDateEpoch != 0 {
		return s.SourceDateEpoch
	}
	return DefaultSourceDateEpoch
}

// Package is one Debian package in a toolchain root.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	// SHA256 is the hex sha256 of the .deb that was installed (apt checked
	// it against the archive's Packages index).
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

// Cache makes and keeps toolchains. One Ensure at a time works on a Dir,
// across processes (a flock on Dir/toolchain.lock).
type Cache struct {
	// Dir is the cache directory.
	Dir string
	// Runner runs mmdebstrap and dpkg-query.
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

func (c *Cache) tmpDir() string { return filepath.Join(c.Dir, "tmp") }

// record is what the cache verified for one Spec; toolchains/KEY.json.
type record struct {
	// Digest is the image (manifest) digest.
	Digest string `json:"digest"`
	// Layers and DiffIDs are the layers' compressed and uncompressed digests.
	Layers  []string `json:"layers"`
	DiffIDs []string `json:"diffIDs"`
	// Packages is the image's package list.
	Packages []Package `json:"packages"`
	// Tree is the TreeDigest of roots/DIGEST.
	Tree string `json:"tree"`
}

// Ensure returns the toolchain for s, making it if the cache lacks it or
// holds a root that does not match its record. It holds the cache lock
// while it works; when ctx is cancelled it removes its temporary files and
// returns ctx.Err().
func (c *Cache) Ensure(ctx context.Context, s Spec) (tc *Toolchain, err error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Whatever is in tmp/ is left by an Ensure that was interrupted.
	if err := removeAll(c.tmpDir()); err != nil {
		return nil, fmt.Errorf("removing leftovers of an interrupted run: %w", err)
	}
	if err := os.MkdirAll(c.tmpDir(), 0o700); err != nil {
		return nil, err
	}
	// Earlier versions unpacked into roots/DIGEST.tmp.
	if old, _ := filepath.Glob(filepath.Join(c.Dir, "roots", "*.tmp")); len(old) > 0 {
		for _, p := range old {
			if err := removeAll(p); err != nil {
				return nil, err
			}
		}
	}
	defer func() {
		if rerr := removeAll(c.tmpDir()); rerr != nil && err == nil {
			err = rerr
		}
		if err != nil && ctx.Err() != nil {
			err = ctx.Err()
		}
	}()

	if tc, err := c.cached(ctx, s); tc != nil || err != nil {
		return tc, err
	}
	if s.Image != "" {
		return c.pull(ctx, s)
	}
	return c.bootstrap(ctx, s)
}

// cached returns the toolchain of s from the cache if its record is there
// and its root matches the record, unpacking the root again from the
// layout when it does not. It returns nil and no error when s must be made
// anew.
func (c *Cache) cached(ctx context.Context, s Spec) (*Toolchain, error) {
	key := s.Key()
	b, err := os.ReadFile(c.recordPath(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r record
	// The digest names a directory to remove and unpack: it must be one.
	if err := json.Unmarshal(b, &r); err != nil || !isDigest(r.Digest) || r.Tree == "" || len(r.Layers) == 0 {
		c.progressf("toolchain record %s is not readable: making the toolchain again", c.recordPath(key))
		return nil, nil
	}
	if s.Image != "" && !strings.HasSuffix(s.Image, "@"+r.Digest) {
		c.progressf("toolchain record %s names %s, not %s: making the toolchain again", c.recordPath(key), r.Digest, s.Image)
		return nil, nil
	}
	if err := checkPins(r.Packages, s.Pins); err != nil {
		return nil, err
	}
	root := c.rootPath(r.Digest)
	tree, err := TreeDigest(root)
	if err == nil && tree == r.Tree {
		c.progressf("toolchain %s (cached)", r.Digest)
		return &Toolchain{Digest: r.Digest, Root: root, Packages: r.Packages, Spec: s}, nil
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.progressf("toolchain root %s is missing: unpacking it again", root)
	case err != nil:
		c.progressf("toolchain root %s does not match its record (%v): unpacking it again", root, err)
	default:
		c.progressf("toolchain root %s does not match its record (tree %s, record says %s): unpacking it again", root, tree, r.Tree)
	}
	if err := removeAll(root); err != nil {
		return nil, err
	}
	tc, err := c.fromLayout(ctx, s, &r)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.progressf("toolchain image %s in the layout: %v: making the toolchain again", r.Digest, err)
		return nil, nil
	}
	return tc, nil
}

// isDigest reports whether d is "sha256:" and 64 lower-case hex digits.
func isDigest(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 2*sha256.Size || strings.ToLower(h) != h {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// install moves the unpacked root into roots/, stores its tree digest, and
// writes the record, last.
func (c *Cache) install(s Spec, r *record, tmpRoot string) (*Toolchain, error) {
	tree, err := TreeDigest(tmpRoot)
	if err != nil {
		return nil, err
	}
	r.Tree = tree
	final := c.rootPath(r.Digest)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return nil, err
	}
	if err := removeAll(final); err != nil {
		return nil, err
	}
	if err := os.Rename(tmpRoot, final); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(c.recordPath(s.Key())), 0o700); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(c.recordPath(s.Key()), 0o600, b); err != nil {
		return nil, err
	}
	c.progressf("toolchain %s", r.Digest)
	return &Toolchain{Digest: r.Digest, Root: final, Packages: r.Packages, Spec: s}, nil
}

// Image makes the toolchain image: one gzip layer from the file at
// layerPath (a tar, compressed here at gzip.BestSpeed, or such a tar's
// gzip), and a config whose labels carry the suite and the package list.
// It holds no time: the same tar and packages give the same digest.
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

// refNameKey is the layout annotation that names the image made for key.
const refNameKey = "org.opencontainers.image.ref.name"

func (c *Cache) layout() (layout.Path, error) {
	dir := filepath.Join(c.Dir, "oci")
	if p, err := layout.FromPath(dir); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return layout.Write(dir, empty.Index)
}

// ImagePackages returns the package list a toolchain image's config carries.
func ImagePackages(img v1.Image) ([]Package, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	return configPackages(cfg)
}

func configPackages(cfg *v1.ConfigFile) ([]Package, error) {
	var pkgs []Package
	if err := json.Unmarshal([]byte(cfg.Config.Labels[LabelPackages]), &pkgs); err != nil {
		return nil, fmt.Errorf("toolchain image label %q: %w", LabelPackages, err)
	}
	return pkgs, nil
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

func hostEnv() []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "TZ=UTC"}
}
