package verify

import (
	"strings"
	"testing"

	sevabi "github.com/google/go-sev-guest/abi"
)

// TestEmbeddedRootsCarryVLEKChains: the roots used when no --certs chain
// is given hold AMD's ASVK for every product line, under the same ARK as
// the VCEK chain, so a VLEK-signed report needs no ASVK from the caller.
func TestEmbeddedRootsCarryVLEKChains(t *testing.T) {
	for _, line := range []string{"Milan", "Genoa", "Turin"} {
		r, err := embeddedRoots(line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		pc := r.ProductCerts
		if pc.Asvk == nil || !strings.HasPrefix(pc.Asvk.Subject.CommonName, "SEV-VLEK") {
			t.Errorf("%s: ASVK %v, want AMD's SEV-VLEK intermediate", line, pc.Asvk)
			continue
		}
		if err := pc.Asvk.CheckSignatureFrom(pc.Ark); err != nil {
			t.Errorf("%s: the ASVK is not signed by the ARK: %v", line, err)
		}
		if pc.Ask == nil || pc.X509Options(pc.Ark.NotBefore.AddDate(1, 0, 0), sevabi.VlekReportSigner) == nil || pc.X509Options(pc.Ark.NotBefore.AddDate(1, 0, 0), sevabi.VcekReportSigner) == nil {
			t.Errorf("%s: no verification options for both VCEK and VLEK", line)
		}
	}
	if _, err := embeddedRoots("Naples"); err == nil {
		t.Errorf("embeddedRoots(Naples) succeeded")
	}
}
