package verify_test

import (
	"errors"
	"testing"

	"github.com/measure-cc/measure/verify"
)

// FuzzTDXCrossCheck: any TCB info and QE identity given for go-tdx-guest's
// sample quote, with its sample chains and CRLs, never panic in the
// cross-check, whose failures are hardware failures. Seeded with the
// recorded collateral.
func FuzzTDXCrossCheck(f *testing.F) {
	col := recordedTDXCollateral(f)
	f.Add(col.TCBInfo, col.QEIdentity)
	f.Add([]byte(`{"tcbInfo":{"id":"TDX","version":3,"tcbLevels":[]},"signature":"00"}`), []byte(`{}`))
	q, err := verify.ParseTDXQuote(read(f, "testdata/tdx-quote-v4.dat"))
	if err != nil {
		f.Fatal(err)
	}
	root := intelRoot(f)
	f.Fuzz(func(t *testing.T, tcbInfo, qeIdentity []byte) {
		c := col
		c.TCBInfo, c.QEIdentity = tcbInfo, qeIdentity
		for _, status := range []string{verify.TCBUpToDate, verify.TCBOutOfDate} {
			err := verify.CrossCheckTDXCollateral(q, root, c, status, goTDXGuestTime)
			if err != nil && !errors.Is(err, verify.ErrHardwareSignature) && !errors.Is(err, verify.ErrMalformed) {
				t.Errorf("CrossCheckTDXCollateral = %v, want nil or a hardware failure", err)
			}
		}
	})
}
