package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/provenance/refvalues"
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

// printStatement prints m, the measurements of one command over one
// firmware, as an in-toto statement with the reference-values predicate.
// It is also where --timestamp without --output statement is refused.
// extra names further subjects: the VARS file of a split TDX image.
func printStatement(w io.Writer, format string, m *measured, extra ...provenance.Subject) error {
	if format != "statement" {
		return usagef("--timestamp needs --output statement")
	}
	st, err := newStatement(m, extra...)
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

// newStatement maps m to the predicate through refvalues, the one mapping
// from measurements to reference values, and names the firmware, kernel
// and initrd as subjects, and extra after them.
func newStatement(m *measured, extra ...provenance.Subject) (*provenance.Statement, error) {
	fwName := filepath.Base(m.fw.path)
	fwDigest := map[string]string{"sha256": m.fw.sha256(), "sha384": m.fw.sha384()}
	fw := provenance.Firmware{Name: fwName, Digest: fwDigest}
	if m.seed != nil {
		fw.SNPOVMFHash = m.seed.String()
	}
	subjects := []provenance.Subject{{Name: fwName, Digest: fwDigest}}
	var boot *provenance.Boot
	if m.hashes != nil {
		initrd := ""
		if m.boot.initrd != "" {
			initrd = filepath.Base(m.boot.initrd)
		}
		boot = refvalues.Boot(filepath.Base(m.boot.kernel), initrd, m.boot.append, m.hashes)
		subjects = append(subjects, provenance.Subject{Name: boot.Kernel.Name, Digest: boot.Kernel.Digest})
		if initrd != "" {
			subjects = append(subjects, provenance.Subject{Name: initrd, Digest: boot.Initrd.Digest})
		}
	}
	subjects = append(subjects, extra...)
	rv, err := refvalues.New(fw, boot, m.results, provenance.Tool{Name: "measure", Version: toolVersion(), URI: toolURI})
	if err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	if m.stmt != nil && m.stmt.timestamp {
		t, err := m.stmt.clock()
		if err != nil {
			return nil, usageError{err}
		}
		t = t.UTC().Truncate(time.Second)
		rv.Timestamp = &t
	}
	return provenance.NewReferenceValuesStatement(subjects, *rv)
}
