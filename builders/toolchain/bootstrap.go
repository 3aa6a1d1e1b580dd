package toolchain

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"

	"github.com/measure-cc/measure/builders/run"
)

// debSums is where the customize hook leaves the .debs' sha256sum lines:
// inside the chroot (under /tmp, which mmdebstrap empties before packing),
// and, downloaded by the next hook, in the work directory.
const (
	debSumsInside = "/tmp/measure-debs.sha256"
	debSumsFile   = "debs.sha256"
)

// mmdebstrapCmd is the mmdebstrap command that writes the root of s as a
// tarball to out, with the .debs' sums to work/debs.sha256.
//
//   - --mode=unshare: a user namespace, no mounts on the host.
//   - --skip=output/dev: no device nodes in the tarball (Unpack refuses them;
//     the sandbox provides /dev).
//   - --skip=essential/unlink: keep the essential .debs until the customize
//     hook has hashed them (the cleanup step removes them all afterwards).
//   - SOURCE_DATE_EPOCH: every time in the tarball, so two runs agree.
//   - TMPDIR inside the cache's tmp/, which the next Ensure empties if this
//     one is killed, when measure runs as root. A user's mmdebstrap works in
//     its tempdir as a subordinate id, which cannot pass the user's private
//     cache (nor, on Debian 12, the home directory): it keeps mmdebstrap's
//     default, /tmp, and its own clean-up on SIGINT/SIGTERM.
func mmdebstrapCmd(s *Spec, work, out string) *run.Cmd {
	args := []string{"mmdebstrap", "--mode=unshare"}
	if s.Variant != "" {
		args = append(args, "--variant="+s.Variant)
	}
	args = append(args, "--skip=output/dev", "--skip=essential/unlink")
	if pkgs := sortedUnique(s.Packages); len(pkgs) > 0 {
		args = append(args, "--include="+strings.Join(pkgs, ","))
	}
	args = append(args,
		`--customize-hook=cd "$1"/var/cache/apt/archives && sha256sum -- *.deb > "$1"`+debSumsInside,
		// Special hook: its outside path is relative to Dir, so no quoting.
		"--customize-hook=download "+debSumsInside+" "+debSumsFile,
		// No option after this: Spec.Validate checked these, and "--"
		// keeps it so.
		"--", s.Suite, out, s.Mirror)
	env := append(hostEnv(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(s.sourceDateEpoch(), 10))
	if os.Geteuid() == 0 {
		env = append(env, "TMPDIR="+filepath.Join(work, "mmdebstrap"))
	}
	return &run.Cmd{Args: args, Env: env, Dir: work}
}

func sortedUnique(a []string) []string {
	s := append([]string(nil), a...)
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// bootstrap runs mmdebstrap, unpacks and checks the root, and stores it as
// an OCI image.
func (c *Cache) bootstrap(ctx context.Context, s Spec) (*Toolchain, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	key := s.Key()
	work := filepath.Join(c.tmpDir(), key)
	if err := os.MkdirAll(filepath.Join(work, "mmdebstrap"), 0o700); err != nil {
		return nil, err
	}
	tarPath := filepath.Join(work, "rootfs.tar")
	cmd := mmdebstrapCmd(&s, work, tarPath)
	tail := &tailWriter{}
	var out io.Writer = tail
	if c.Log != nil {
		out = io.MultiWriter(c.Log, tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	c.progressf("mmdebstrap %s (%d extra packages)", s.Suite, len(s.Packages))
	if err := c.Runner.Run(ctx, cmd); err != nil {
		if ctx.Err() == nil {
			lines := tail.lines(20)
			if len(lines) > 0 {
				c.progressf("last %d lines of mmdebstrap's output:", len(lines))
				for _, l := range lines {
					c.progressf("  | %s", l)
				}
				err = fmt.Errorf("%w: %s", err, lines[len(lines)-1])
			}
		}
		return nil, err
	}

	root := filepath.Join(work, "root")
	if err := os.Mkdir(root, 0o700); err != nil {
		return nil, err
	}
	f, err := os.Open(tarPath)
	if err != nil {
		return nil, err
	}
	err = Unpack(f, root)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("unpacking the mmdebstrap tarball: %w", err)
	}
	pkgs, err := c.packages(ctx, root)
	if err != nil {
		return nil, err
	}
	if err := checkPins(pkgs, s.Pins); err != nil {
		return nil, err
	}
	sums, err := os.ReadFile(filepath.Join(work, debSumsFile))
	if err != nil {
		return nil, fmt.Errorf("the .deb sums of mmdebstrap's customize hook: %w", err)
	}
	if err := addDebHashes(sums, pkgs); err != nil {
		return nil, err
	}

	c.progressf("packing the root into an OCI image")
	// Compressed once here: from a tar, the layer would be compressed
	// once for its digest and again when written to the layout.
	gzPath := tarPath + ".gz"
	if err := gzipFile(tarPath, gzPath); err != nil {
		return nil, err
	}
	img, err := Image(s, pkgs, gzPath)
	if err != nil {
		return nil, err
	}
	p, err := c.layout()
	if err != nil {
		return nil, err
	}
	ref := "toolchain-" + key[:16]
	if err := p.ReplaceImage(img, match.Annotation(refNameKey, ref), layout.WithAnnotations(map[string]string{refNameKey: ref})); err != nil {
		return nil, fmt.Errorf("writing toolchain image to %q: %w", p, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	r := &record{Digest: d.String(), Packages: pkgs}
	for _, l := range m.Layers {
		r.Layers = append(r.Layers, l.Digest.String())
	}
	for _, h := range cfg.RootFS.DiffIDs {
		r.DiffIDs = append(r.DiffIDs, h.String())
	}
	return c.install(s, r, root)
}

// addDebHashes fills each package's SHA256 from sha256sum lines
// ("HEX  NAME_VERSION_ARCH.deb", the version's ':' written "%3a" as apt
// names the files). A package without a line keeps no hash.
func addDebHashes(sums []byte, pkgs []Package) error {
	byFile := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		sum, file, ok := strings.Cut(line, "  ")
		if b, err := hex.DecodeString(sum); !ok || err != nil || len(b) != 32 {
			return fmt.Errorf(".deb sums line %d %q: want \"SHA256  FILE\"", n, line)
		}
		byFile[file] = sum
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for i := range pkgs {
		p := &pkgs[i]
		file := p.Name + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_" + p.Arch + ".deb"
		p.SHA256 = byFile[file]
	}
	return nil
}

// gzipFile writes the gzip of src to dst the way go-containerregistry
// compresses a layer from a tar (compress/gzip at gzip.BestSpeed, no name,
// no time), so that Image gives the same digest from either file.
func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 1<<17)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err == nil {
		_, err = io.Copy(zw, in)
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// tailWriter keeps the last 8 KiB written to it.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 8 << 10

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailBytes {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailBytes:]...)
	}
	return len(p), nil
}

// lines returns the last n non-empty lines.
func (t *tailWriter) lines(n int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, l := range strings.Split(string(t.buf), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, run.Printable(l))
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}
