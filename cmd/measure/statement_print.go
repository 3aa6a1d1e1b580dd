//go:build !measure_front

package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/provenance/refvalues"
)

// toolURI names this program in the statements it writes.
const toolURI = "https://github.com/measure-cc/measure"

// printStatement prints m, the measurements of one command over one
// firmware, as an in-toto statement with the reference-values predicate.
// It is also where --timestamp without --output statement is refused.
// extra names further subjects: the VARS file of a split TDX image.
func printStatement(w io.Writer, format string, m *measured, extra ...subject) error {
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
func newStatement(m *measured, extra ...subject) (*provenance.Statement, error) {
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
	for _, s := range extra {
		subjects = append(subjects, provenance.Subject{Name: s.name, Digest: s.digest})
	}
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
