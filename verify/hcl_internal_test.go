package verify

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestCheckQuoteTD15: a quote with a TDX 1.5 body is compared with the TD
// report's TEE_TCB_SVN2 and SERVTD_HASH as well (a body built from the
// recorded TD report, as a version 5 quote of it would carry it).
func TestCheckQuoteTD15(t *testing.T) {
	b, err := os.ReadFile("testdata/hcl-tdx.bin")
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHCLReport(b)
	if err != nil {
		t.Fatal(err)
	}
	r := h.TD()
	body := tdReport15{TD10: tdReport10{
		TEETCBSVN: r.TEETCBInfo.TEETCBSVN, MRSEAM: r.TEETCBInfo.MRSEAM, MRSIGNERSEAM: r.TEETCBInfo.MRSignerSEAM,
		SEAMATTRIBUTES: r.TEETCBInfo.Attributes, TDATTRIBUTES: r.TDInfo.Attributes, XFAM: r.TDInfo.XFAM,
		MRTD: r.TDInfo.MRTD, MRCONFIGID: r.TDInfo.MRConfigID, MROWNER: r.TDInfo.MROwner, MROWNERCONFIG: r.TDInfo.MROwnerConfig,
		RTMR: r.TDInfo.RTMR, REPORTDATA: r.ReportMAC.ReportData,
	}, TEETCBSVN2: r.TEETCBInfo.TEETCBSVN2, MRSERVICETD: r.TDInfo.ServTDHash}
	quote := func(edit func(*tdReport15)) *TDXQuote {
		b := body
		edit(&b)
		return &TDXQuote{parsed: &parsedQuote{BodyType: bodyTypeTD15, Body: b}}
	}
	if err := h.CheckQuote(quote(func(*tdReport15) {})); err != nil {
		t.Errorf("CheckQuote(the TD report's own body) = %v", err)
	}
	for name, edit := range map[string]func(*tdReport15){
		"MRSERVICETD":  func(b *tdReport15) { b.MRSERVICETD[0] ^= 1 },
		"TEE_TCB_SVN2": func(b *tdReport15) { b.TEETCBSVN2[1] ^= 1 },
		"RTMR3":        func(b *tdReport15) { b.TD10.RTMR[3][47] ^= 1 },
	} {
		err := h.CheckQuote(quote(edit))
		if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), name+" is ") {
			t.Errorf("%s changed: CheckQuote = %v, want ErrBinding naming it", name, err)
		}
	}
}
