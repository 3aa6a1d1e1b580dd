package main

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
)

// Bounds on what measuring commands read. An initrd is hashed as a stream:
// its bound keeps a device file such as /dev/zero from running forever. A
// kernel is read whole (TDX reads its PE image).
const (
	maxBlobSize   = 2 << 30
	maxKernelSize = 512 << 20
)

// firmwareOptions is --ovmf.
type firmwareOptions struct {
	path string
	// stdin is read for --ovmf -; nil means os.Stdin.
	stdin io.Reader
}

func (o *firmwareOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.path, "ovmf", "", "firmware image (OVMF.fd, or the CODE part of a split image); - for standard input")
}

// loadedFirmware is a loaded image; the digests of its file are computed
// when first asked for.
type loadedFirmware struct {
	path string
	img  *ovmf.Image

	sum256, sum384 string
}

func (o *firmwareOptions) load() (*loadedFirmware, error) {
	if o.path == "" {
		return nil, usagef("--ovmf is required")
	}
	data, err := o.read(o.path)
	if err != nil {
		return nil, err
	}
	return parseFirmware(o.path, data)
}

// read reads a firmware file, or standard input for "-".
func (o *firmwareOptions) read(path string) ([]byte, error) {
	if path != "-" {
		return readFirmwareFile(path)
	}
	in := o.stdin
	if in == nil {
		in = os.Stdin
	}
	return readLimit(in, "standard input", ovmf.MaxImageSize, -1)
}

func loadFirmware(path string) (*loadedFirmware, error) {
	data, err := readFirmwareFile(path)
	if err != nil {
		return nil, err
	}
	return parseFirmware(path, data)
}

func parseFirmware(path string, data []byte) (*loadedFirmware, error) {
	img, err := ovmf.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("firmware %q: %w", path, err)
	}
	return &loadedFirmware{path: path, img: img}, nil
}

// readFirmwareFile maps a firmware file, or reads it when it cannot be
// mapped: measuring hashes every byte once, and a mapping of a file in the
// page cache costs neither a copy nor fresh pages.
func readFirmwareFile(path string) ([]byte, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > ovmf.MaxImageSize {
		return nil, unreadable(fmt.Errorf("%q is larger than %d bytes", path, int64(ovmf.MaxImageSize)))
	}
	// One sized read into memory of our own, not a mapping of the file: a
	// mapped file that another process truncates kills the reader with
	// SIGBUS, and one it rewrites changes the bytes between the digest a
	// statement names and the measurement computed from them.
	return readLimit(f, path, ovmf.MaxImageSize, size)
}

func (f *loadedFirmware) sha256() string {
	if f.sum256 == "" {
		h := sha256.Sum256(f.img.Data())
		f.sum256 = hex.EncodeToString(h[:])
	}
	return f.sum256
}

func (f *loadedFirmware) sha384() string {
	if f.sum384 == "" {
		h := sha512.Sum384(f.img.Data())
		f.sum384 = hex.EncodeToString(h[:])
	}
	return f.sum384
}

// readFileLimit reads a regular file of at most limit bytes, reading no more
// than limit+1 bytes whatever the file claims to be.
func readFileLimit(path string, limit int64) ([]byte, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimit(f, path, limit, size)
}

// hugeReads lets readLimit read large files into huge pages (hugeBuffer),
// memory that is never freed: main sets it, for a process that reads its
// firmware once; tests, which run many commands in one process, do not.
var hugeReads bool

// readLimit reads r to its end, at most limit bytes. size is what the file
// says it holds (-1: unknown): one read of that size and a probe for more
// then suffice, without the copies of a growing buffer.
func readLimit(r io.Reader, name string, limit, size int64) ([]byte, error) {
	if size > limit {
		return nil, unreadable(fmt.Errorf("%q is larger than %d bytes", name, limit))
	}
	var data []byte
	if size >= 0 {
		if data = hugeBuffer(int(size)); data == nil {
			data = make([]byte, size, size+1)
		}
		n, err := io.ReadFull(r, data)
		data = data[:n]
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, unreadable(fmt.Errorf("reading %q: %w", name, err))
		}
		if err != nil {
			return data, nil // the file shrank: what it holds now
		}
	}
	// The file grew, or its size is unknown: read on, up to the limit.
	rest, err := io.ReadAll(io.LimitReader(r, limit+1-int64(len(data))))
	if err != nil {
		return nil, unreadable(fmt.Errorf("reading %q: %w", name, err))
	}
	if len(rest) > 0 {
		data = append(data, rest...)
	}
	if int64(len(data)) > limit {
		return nil, unreadable(fmt.Errorf("%q is larger than %d bytes", name, limit))
	}
	return data, nil
}

// openRegular opens a file that is not a directory.
func openRegular(path string) (*os.File, error) {
	f, _, err := openSized(path)
	return f, err
}

// openSized opens a file that is not a directory and returns its size (-1
// when it is not a regular file: a pipe or device says nothing).
func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err // *PathError names the file and the reason
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, unreadable(fmt.Errorf("%q is a directory, want a file", path))
	}
	size := int64(-1)
	if st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, nil
}

// kernelOptions is measured direct boot: --kernel, --initrd, --append.
type kernelOptions struct {
	kernel, initrd, append string
}

func (o *kernelOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.kernel, "kernel", "", "kernel for measured direct boot (QEMU -kernel)")
	fs.StringVar(&o.initrd, "initrd", "", "initrd for measured direct boot (QEMU -initrd); needs --kernel")
	fs.StringVar(&o.append, "append", "", "kernel command line (QEMU -append); needs --kernel")
}

// check refuses --initrd and --append without --kernel.
func (o *kernelOptions) check(cmd *cobra.Command) error {
	if o.kernel == "" {
		for _, name := range []string{"initrd", "append"} {
			if cmd.Flags().Changed(name) {
				return usagef("--%s needs --kernel", name)
			}
		}
	}
	return nil
}

// load reads the boot's files: the kernel whole, the initrd as a stream
// into its size and digests. It returns nil without --kernel.
func (o *kernelOptions) load(cmd *cobra.Command) (*measure.Boot, error) {
	if err := o.check(cmd); err != nil || o.kernel == "" {
		return nil, err
	}
	k, err := readFileLimit(o.kernel, maxKernelSize)
	if err != nil {
		return nil, err
	}
	b := &measure.Boot{Kernel: k, Cmdline: o.append}
	if o.initrd != "" {
		f, err := openRegular(o.initrd)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if b.Initrd, err = measure.HashBlob(&capReader{r: f, left: maxBlobSize, name: o.initrd}); err != nil {
			return nil, unreadable(fmt.Errorf("reading %q: %w", o.initrd, err))
		}
	}
	return b, nil
}

// hashes returns the SEV hashes table digests of the boot, nil without
// --kernel.
func (o *kernelOptions) hashes(cmd *cobra.Command) (*snp.KernelHashes, error) {
	b, err := o.load(cmd)
	if err != nil || b == nil {
		return nil, err
	}
	return b.KernelHashes(), nil
}

func openBlob(path string) (*os.File, error) { return openRegular(path) }

// capReader fails once its source gives more than left bytes.
type capReader struct {
	r    io.Reader
	left int64
	name string
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var probe [1]byte
		if n, err := c.r.Read(probe[:]); n > 0 {
			return 0, fmt.Errorf("%q is larger than %d bytes", c.name, int64(maxBlobSize))
		} else {
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// outputOptions is --output.
type outputOptions struct {
	format  string
	allowed []string
}

func (o *outputOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "output", "o", o.allowed[0], "output format: "+strings.Join(o.allowed, ", "))
	// sev-snp-measure's name for the same flag.
	fs.StringVar(&o.format, "output-format", o.allowed[0], "same as --output")
	_ = fs.MarkHidden("output-format")
	addOutputFileFlag(fs)
}

func (o *outputOptions) validate() error {
	for _, a := range o.allowed {
		if o.format == a {
			return nil
		}
	}
	return usagef("--output %q is unknown, want one of %s", o.format, strings.Join(o.allowed, ", "))
}

// parseVCPUs parses "4", "1,2,4", "1-64" or "1-4,8,16" into a sorted list
// without duplicates.
func parseVCPUs(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, usagef("--vcpus is empty")
	}
	seen := map[int]bool{}
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := parseVCPUCount(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseVCPUCount(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, usagef("--vcpus range %q runs backwards", part)
			}
		}
		for n := a; n <= b; n++ {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func parseVCPUCount(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, usagef("--vcpus: %q is not a number", s)
	}
	if n < 1 || n > snp.MaxVCPUs {
		return 0, usagef("--vcpus: %d, want 1 to %d", n, snp.MaxVCPUs)
	}
	return n, nil
}

// parseUint parses a decimal, 0x-hex, 0o-octal or 0b-binary number.
func parseUint(flag, s string, bits int) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, bits)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, usagef("--%s %q does not fit in %d bits", flag, s, bits)
		}
		return 0, usagef("--%s %q is not a number", flag, s)
	}
	return v, nil
}
