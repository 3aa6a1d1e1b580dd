package toolchain

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxConfigSize bounds an image config read into memory; a toolchain's,
// with its package list, is tens of kilobytes.
const maxConfigSize = 16 << 20

// pull fetches s.Image from its registry: the manifest (checked against the
// reference's digest), the config and each layer blob once, each checked
// against its digest (and each layer's uncompressed stream against the
// config's diff_ids) before anything reads it; then it stores the checked
// blobs in the layout and unpacks the checked files.
func (c *Cache) pull(ctx context.Context, s Spec) (*Toolchain, error) {
	ref, err := name.NewDigest(s.Image)
	if err != nil {
		return nil, fmt.Errorf("toolchain image %q: want a reference by digest: %w", s.Image, err)
	}
	want, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, fmt.Errorf("toolchain image %q: %w", s.Image, err)
	}
	c.progressf("pulling %s", ref)
	desc, err := remote.Get(ref, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("pulling toolchain image %q: %w", s.Image, err)
	}
	repo := ref.Context()
	m, err := checkManifest(desc.Manifest, want)
	if err != nil {
		return nil, fmt.Errorf("toolchain image %q: %w", s.Image, err)
	}
	cfgBytes, err := fetchConfig(ctx, repo, m.Config)
	if err != nil {
		return nil, fmt.Errorf("toolchain image %q: %w", s.Image, err)
	}
	cfg, err := checkConfig(cfgBytes, m)
	if err != nil {
		return nil, fmt.Errorf("toolchain image %q: %w", s.Image, err)
	}
	pkgs, err := configPackages(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkPins(pkgs, s.Pins); err != nil {
		return nil, err
	}

	work := filepath.Join(c.tmpDir(), s.Key())
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, err
	}
	files := make([]string, len(m.Layers))
	for i, l := range m.Layers {
		files[i] = filepath.Join(work, fmt.Sprintf("layer-%d", i))
		if err := fetchBlob(ctx, repo, l, files[i]); err != nil {
			return nil, fmt.Errorf("toolchain image %q layer %d: %w", s.Image, i, err)
		}
		if err := verifyLayerFile(files[i], l, cfg.RootFS.DiffIDs[i]); err != nil {
			return nil, fmt.Errorf("toolchain image %q layer %d: %w", s.Image, i, err)
		}
	}

	// Into the layout, from the checked bytes only.
	p, err := c.layout()
	if err != nil {
		return nil, err
	}
	if err := p.WriteBlob(m.Config.Digest, io.NopCloser(bytes.NewReader(cfgBytes))); err != nil {
		return nil, err
	}
	for i, l := range m.Layers {
		f, err := os.Open(files[i])
		if err != nil {
			return nil, err
		}
		if err := p.WriteBlob(l.Digest, f); err != nil { // WriteBlob closes f
			return nil, err
		}
	}
	if err := p.WriteBlob(want, io.NopCloser(bytes.NewReader(desc.Manifest))); err != nil {
		return nil, err
	}
	refName := "toolchain-" + s.Key()[:16]
	if err := p.RemoveDescriptors(match.Annotation(refNameKey, refName)); err != nil {
		return nil, err
	}
	if err := p.AppendDescriptor(v1.Descriptor{
		MediaType: m.MediaType, Size: int64(len(desc.Manifest)), Digest: want,
		Annotations: map[string]string{refNameKey: refName},
	}); err != nil {
		return nil, err
	}

	r := &record{Digest: want.String(), Packages: pkgs}
	for i, l := range m.Layers {
		r.Layers = append(r.Layers, l.Digest.String())
		r.DiffIDs = append(r.DiffIDs, cfg.RootFS.DiffIDs[i].String())
	}
	return c.unpackFiles(ctx, s, r, m, files)
}

// fromLayout unpacks the image r names from the cache's layout again,
// checking the manifest, config and layer blobs against r's digests first.
func (c *Cache) fromLayout(ctx context.Context, s Spec, r *record) (*Toolchain, error) {
	p, err := c.layout()
	if err != nil {
		return nil, err
	}
	want, err := v1.NewHash(r.Digest)
	if err != nil {
		return nil, err
	}
	mb, err := readBlob(p.Bytes, want)
	if err != nil {
		return nil, err
	}
	m, err := checkManifest(mb, want)
	if err != nil {
		return nil, err
	}
	cb, err := readBlob(p.Bytes, m.Config.Digest)
	if err != nil {
		return nil, err
	}
	if err := checkBlob(cb, m.Config.Digest); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := checkConfig(cb, m)
	if err != nil {
		return nil, err
	}
	if len(m.Layers) != len(r.Layers) || len(r.DiffIDs) != len(r.Layers) || len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%d layers and %d diffIDs, record says %d and %d", len(m.Layers), len(cfg.RootFS.DiffIDs), len(r.Layers), len(r.DiffIDs))
	}
	files := make([]string, len(m.Layers))
	for i, l := range m.Layers {
		if l.Digest.String() != r.Layers[i] || cfg.RootFS.DiffIDs[i].String() != r.DiffIDs[i] {
			return nil, fmt.Errorf("layer %d is %s (diffID %s), record says %s (%s)",
				i, l.Digest, cfg.RootFS.DiffIDs[i], r.Layers[i], r.DiffIDs[i])
		}
		files[i] = filepath.Join(string(p), "blobs", l.Digest.Algorithm, l.Digest.Hex)
		if err := verifyLayerFile(files[i], l, cfg.RootFS.DiffIDs[i]); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	pkgs, err := configPackages(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkPins(pkgs, s.Pins); err != nil {
		return nil, err
	}
	nr := &record{Digest: r.Digest, Layers: r.Layers, DiffIDs: r.DiffIDs, Packages: pkgs}
	return c.unpackFiles(ctx, s, nr, m, files)
}

// unpackFiles extracts the checked layer files in order into a fresh
// directory and installs it as r's root.
func (c *Cache) unpackFiles(ctx context.Context, s Spec, r *record, m *v1.Manifest, files []string) (*Toolchain, error) {
	c.progressf("unpacking toolchain %s", r.Digest)
	tmpRoot := filepath.Join(c.tmpDir(), s.Key()+"-root")
	if err := os.MkdirAll(tmpRoot, 0o700); err != nil {
		return nil, err
	}
	u, err := newUnpacker(tmpRoot)
	if err != nil {
		return nil, err
	}
	defer u.root.Close()
	for i, file := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := unpackLayerFile(u, file, m.Layers[i].MediaType); err != nil {
			return nil, fmt.Errorf("toolchain %s layer %d: %w", r.Digest, i, err)
		}
	}
	if err := u.finish(); err != nil {
		return nil, err
	}
	// The pins were checked against the package list the image's label
	// claims; what counts is the root's own dpkg database.
	have, err := c.packages(ctx, tmpRoot)
	if err != nil {
		return nil, fmt.Errorf("toolchain %s: %w", r.Digest, err)
	}
	if err := samePackages(r.Packages, have); err != nil {
		return nil, fmt.Errorf("toolchain %s: %w", r.Digest, err)
	}
	return c.install(s, r, tmpRoot)
}

// samePackages checks that the packages an image's label lists are, by name,
// version and architecture, the ones its root's dpkg database holds.
func samePackages(label, root []Package) error {
	key := func(p Package) string { return p.Name + " " + p.Version + " " + p.Arch }
	want := map[string]bool{}
	for _, p := range label {
		want[key(p)] = true
	}
	var errs []error
	for _, p := range root {
		if !want[key(p)] {
			errs = append(errs, fmt.Errorf("the root holds %s %s (%s), which its label does not list", p.Name, p.Version, p.Arch))
		}
		delete(want, key(p))
	}
	for k := range want {
		errs = append(errs, fmt.Errorf("its label lists %s, which the root does not hold", k))
	}
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Errorf("and %d more differences", len(errs)-3))
	}
	return errors.Join(errs...)
}

func readBlob(read func(v1.Hash) ([]byte, error), h v1.Hash) ([]byte, error) {
	b, err := read(h)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	return b, nil
}

// checkBlob checks that b's sha256 is want.
func checkBlob(b []byte, want v1.Hash) error {
	if want.Algorithm != "sha256" {
		return fmt.Errorf("digest %s: only sha256 is supported", want)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != want.Hex {
		return fmt.Errorf("digest mismatch: got sha256:%s, want %s", got, want)
	}
	return nil
}

// checkManifest checks b against want and parses it as an image manifest.
func checkManifest(b []byte, want v1.Hash) (*v1.Manifest, error) {
	if err := checkBlob(b, want); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", want, err)
	}
	switch m.MediaType {
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
	case "":
		m.MediaType = types.OCIManifestSchema1 // OCI allows leaving it out
	default:
		return nil, fmt.Errorf("manifest %s: media type %q, want an image manifest", want, m.MediaType)
	}
	if len(m.Layers) == 0 {
		return nil, fmt.Errorf("manifest %s: no layers", want)
	}
	return m, nil
}

// checkConfig parses the config b (already checked against m.Config) and
// checks that it has one diff_id per layer.
func checkConfig(b []byte, m *v1.Manifest) (*v1.ConfigFile, error) {
	cfg, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("config %s: %d diff_ids for %d layers", m.Config.Digest, len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	return cfg, nil
}

// fetchConfig downloads the config blob once and checks its digest.
func fetchConfig(ctx context.Context, repo name.Repository, d v1.Descriptor) ([]byte, error) {
	if d.Size < 0 || d.Size > maxConfigSize {
		return nil, fmt.Errorf("config %s: size %d, want at most %d", d.Digest, d.Size, maxConfigSize)
	}
	l, err := remote.Layer(repo.Digest(d.Digest.String()), remote.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", d.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", d.Digest, err)
	}
	if err := checkBlob(b, d.Digest); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return b, nil
}

// fetchBlob downloads the blob d once into the file p, hashing it on the
// way, and checks its size and digest.
func fetchBlob(ctx context.Context, repo name.Repository, d v1.Descriptor, p string) error {
	if d.Digest.Algorithm != "sha256" {
		return fmt.Errorf("digest %s: only sha256 is supported", d.Digest)
	}
	l, err := remote.Layer(repo.Digest(d.Digest.String()), remote.WithContext(ctx))
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	defer rc.Close()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rc, d.Size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if n != d.Size {
		return fmt.Errorf("blob %s: %d bytes, manifest says %d", d.Digest, n, d.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Digest.Hex {
		return fmt.Errorf("blob digest mismatch: got sha256:%s, want %s", got, d.Digest)
	}
	return nil
}

// layerReader returns the uncompressed tar stream of a layer of media
// type mt read from r.
func layerReader(r io.Reader, mt types.MediaType) (io.Reader, error) {
	switch mt {
	case types.OCILayer, types.DockerLayer:
		return gzip.NewReader(r)
	case types.OCIUncompressedLayer, types.DockerUncompressedLayer:
		return r, nil
	}
	return nil, fmt.Errorf("layer media type %q is not supported", mt)
}

// verifyLayerFile checks the layer file p against its descriptor (size and
// digest), then its uncompressed stream against diffID: two passes, so
// that the decompressor reads only bytes whose digest is checked.
func verifyLayerFile(p string, d v1.Descriptor, diffID v1.Hash) error {
	if d.Digest.Algorithm != "sha256" || diffID.Algorithm != "sha256" {
		return fmt.Errorf("digests %s, %s: only sha256 is supported", d.Digest, diffID)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != d.Size {
		return fmt.Errorf("layer %s: %d bytes, manifest says %d", d.Digest, n, d.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Digest.Hex {
		return fmt.Errorf("layer digest mismatch: got sha256:%s, want %s", got, d.Digest)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r, err := layerReader(f, d.MediaType)
	if err != nil {
		return fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	h.Reset()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != diffID.Hex {
		return fmt.Errorf("layer %s: diffID mismatch: got sha256:%s, want %s", d.Digest, got, diffID)
	}
	return nil
}

// unpackLayerFile extracts the layer file p (already verified) with u.
func unpackLayerFile(u *unpacker, p string, mt types.MediaType) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := layerReader(f, mt)
	if err != nil {
		return err
	}
	return u.add(r)
}
