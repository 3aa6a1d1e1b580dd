package main

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/provenance"
)

// toolURI names this program in the statements it writes.
const toolURI = "https://github.com/measure-cc/measure"

// statementOptions is --timestamp, which only --output statement uses.
type statementOptions struct {
	timestamp bool
	// now is the clock; nil means SOURCE_DATE_EPOCH when set, else the
	// system clock.
	now func() (time.Time, error)
}

func (o *statementOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.timestamp, "timestamp", false, "with --output statement: record when the values were computed (from SOURCE_DATE_EPOCH when set)")
}

func (o *statementOptions) clock() (time.Time, error) {
	if o.now != nil {
		return o.now()
	}
	if s, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil || sec < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q, want seconds since 1970 as a decimal number", s)
		}
		return time.Unix(sec, 0), nil
	}
	return time.Now(), nil
}

// sha384Hex is the lower-case hex SHA-384 of data, the second digest of
// the firmware subject.
func sha384Hex(data []byte) string {
	h := sha512.Sum384(data)
	return hex.EncodeToString(h[:])
}

// printStatement prints recs, the measurements of one command over one
// firmware, as an in-toto statement with the reference-values predicate.
// It is also where --timestamp without --output statement is refused.
func printStatement(w io.Writer, format string, recs []record) error {
	if format != "statement" {
		return usagef("--timestamp needs --output statement")
	}
	st, err := newStatement(recs)
	if err != nil {
		return err
	}
	b, err := provenance.Marshal(st)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// wantsTimestamp reports whether --timestamp was given for recs.
func wantsTimestamp(recs []record) bool {
	return len(recs) > 0 && recs[0].stmt != nil && recs[0].stmt.timestamp
}

// registers maps a platform to the report field its measurement is.
var registers = map[string]string{
	"sev":     "LAUNCH_DIGEST",
	"sev-es":  "LAUNCH_DIGEST",
	"sev-snp": "MEASUREMENT",
	"tdx":     "MRTD",
}

// digestAlgorithms names a measurement's hash algorithm by its size.
var digestAlgorithms = map[int]string{32: "sha256", 48: "sha384"}

func newStatement(recs []record) (*provenance.Statement, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("statement: no measurements")
	}
	base := recs[0]
	if base.OVMFSHA256 == "" || base.ovmfSHA384 == "" {
		return nil, fmt.Errorf("statement: firmware %q: digests were not computed", base.OVMF)
	}
	fwName := filepath.Base(base.OVMF)
	fwDigest := map[string]string{"sha256": base.OVMFSHA256, "sha384": base.ovmfSHA384}
	rv := provenance.ReferenceValues{
		Platform: base.Platform,
		Firmware: provenance.Firmware{Name: fwName, Digest: fwDigest, SNPOVMFHash: base.SNPOVMFHash},
		Tool:     provenance.Tool{Name: "measure", Version: version, URI: toolURI},
	}
	subjects := []provenance.Subject{{Name: fwName, Digest: fwDigest}}
	if b := base.bootInputs; b != nil {
		rv.Boot = &provenance.Boot{
			Kernel:  provenance.File{Name: filepath.Base(b.Kernel), Digest: map[string]string{"sha256": b.KernelSHA256}},
			Initrd:  provenance.File{Digest: map[string]string{"sha256": b.InitrdSHA256}},
			Cmdline: provenance.Cmdline{Value: b.Append, Digest: map[string]string{"sha256": b.CmdlineSHA256}},
		}
		subjects = append(subjects, provenance.Subject{Name: rv.Boot.Kernel.Name, Digest: rv.Boot.Kernel.Digest})
		if b.Initrd != "" {
			rv.Boot.Initrd.Name = filepath.Base(b.Initrd)
			subjects = append(subjects, provenance.Subject{Name: rv.Boot.Initrd.Name, Digest: rv.Boot.Initrd.Digest})
		}
	}
	register, ok := registers[base.Platform]
	if !ok {
		return nil, fmt.Errorf("statement: platform %q has no report field", base.Platform)
	}
	for _, r := range recs {
		if r.Platform != base.Platform || r.OVMF != base.OVMF {
			return nil, fmt.Errorf("statement: measurements of %s %q and %s %q cannot share one statement", base.Platform, base.OVMF, r.Platform, r.OVMF)
		}
		alg, ok := digestAlgorithms[len(r.raw)]
		if !ok {
			return nil, fmt.Errorf("statement: %s measurement of %d bytes, want 32 or 48", r.Platform, len(r.raw))
		}
		rv.Values = append(rv.Values, provenance.ReferenceValue{
			Configuration: provenance.Configuration{
				VMMType:       r.VMMType,
				VCPUs:         r.VCPUs,
				VCPUType:      r.VCPUType,
				VCPUSig:       r.VCPUSig,
				GuestFeatures: r.GuestFeatures,
			},
			Measurements: []provenance.Measurement{{Register: register, Digest: map[string]string{alg: hex.EncodeToString(r.raw)}}},
		})
	}
	if wantsTimestamp(recs) {
		t, err := base.stmt.clock()
		if err != nil {
			return nil, usageError{err}
		}
		t = t.UTC().Truncate(time.Second)
		rv.Timestamp = &t
	}
	return provenance.NewReferenceValuesStatement(subjects, rv)
}
