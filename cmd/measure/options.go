package main

import (
	"crypto/sha256"
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

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
)

// maxBlobSize bounds a kernel or initrd: they are hashed as a stream, and the
// bound keeps a device file such as /dev/zero from running forever.
const maxBlobSize = 2 << 30

// firmwareOptions is --ovmf.
type firmwareOptions struct {
	path string
}

func (o *firmwareOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.path, "ovmf", "", "firmware image (OVMF.fd, or the CODE part of a split image)")
}

// loadedFirmware is a loaded image with the digests of its file.
type loadedFirmware struct {
	path string
	img  *ovmf.Image
}

func (o *firmwareOptions) load() (*loadedFirmware, error) {
	if o.path == "" {
		return nil, usagef("--ovmf is required")
	}
	return loadFirmware(o.path)
}

func loadFirmware(path string) (*loadedFirmware, error) {
	data, err := readFileLimit(path, ovmf.MaxImageSize)
	if err != nil {
		return nil, err
	}
	img, err := ovmf.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("firmware %q: %w", path, err)
	}
	return &loadedFirmware{path: path, img: img}, nil
}

func (f *loadedFirmware) sha256() string {
	h := sha256.Sum256(f.img.Data())
	return hex.EncodeToString(h[:])
}

// readFileLimit reads a regular file of at most limit bytes, reading no more
// than limit+1 bytes whatever the file claims to be.
func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%q is larger than %d bytes", path, limit)
	}
	return data, nil
}

func openRegular(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file and the reason
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%q is a directory, want a file", path)
	}
	return f, nil
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

// hashes returns nil without --kernel.
func (o *kernelOptions) hashes(cmd *cobra.Command) (*snp.KernelHashes, error) {
	if o.kernel == "" {
		for _, name := range []string{"initrd", "append"} {
			if cmd.Flags().Changed(name) {
				return nil, usagef("--%s needs --kernel", name)
			}
		}
		return nil, nil
	}
	k, err := openBlob(o.kernel)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	var initrd io.Reader
	if o.initrd != "" {
		f, err := openBlob(o.initrd)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		initrd = f
	}
	if initrd != nil {
		initrd = &capReader{r: initrd, left: maxBlobSize, name: o.initrd}
	}
	return snp.NewKernelHashes(&capReader{r: k, left: maxBlobSize, name: o.kernel}, initrd, o.append)
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
