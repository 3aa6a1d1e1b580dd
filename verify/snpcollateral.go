package verify

import (
	"fmt"
	"strings"

	sevabi "github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
)

// kdsBase is the base URL go-sev-guest's kds package puts in front of the
// paths it formats; SNPKDSPaths strips it so a caller can put another base
// (a mirror, a test server) in front.
const kdsBase = "https://kdsintf.amd.com"

// KDSPaths are the paths, relative to the base of AMD's Key Distribution
// Service (https://kdsintf.amd.com), of the certificates and the CRL that
// verify a report on one product line.
type KDSPaths struct {
	// ProductLine is Milan, Genoa or Turin.
	ProductLine string
	// Signer is VCEK or VLEK, the key SIGNER_INFO names.
	Signer string
	// VCEK is the path of the VCEK for the report's CHIP_ID and
	// REPORTED_TCB (/vcek/v1/{line}/{hwid}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..);
	// empty when the KDS cannot serve it, NoVCEK then says why.
	VCEK   string
	NoVCEK string
	// CertChain is the ASK (ASVK) and ARK, PEM (/vcek/v1/{line}/cert_chain
	// or /vlek/v1/{line}/cert_chain).
	CertChain string
	// CRL is the ARK's CRL for the chain, DER (/vcek/v1/{line}/crl or
	// /vlek/v1/{line}/crl).
	CRL string
}

// SNPKDSPaths returns where the KDS serves the certificates and CRL for r:
// one KDSPaths for the product line the report names (version 3 and later
// carry the CPUID family and model) or signer (the VCEK or VLEK, DER or
// PEM, when the caller has it) names; for a version 2 report without it,
// one per candidate (Milan, then Genoa) to try in turn.
func SNPKDSPaths(r *SNPReport, signer []byte) ([]KDSPaths, error) {
	info, err := sevabi.ParseSignerInfo(r.proto.GetSignerInfo())
	if err != nil {
		return nil, fmt.Errorf("%w: SIGNER_INFO: %v", ErrMalformed, err)
	}
	key := info.SigningKey
	if key != sevabi.VcekReportSigner && key != sevabi.VlekReportSigner {
		return nil, fmt.Errorf("%w: report signed by %v, want VCEK or VLEK", ErrHardwareSignature, key)
	}
	lines := []string{"Milan", "Genoa"}
	if fms := r.proto.GetCpuid1EaxFms(); fms != 0 {
		lines = []string{kds.ProductLineFromFms(fms)}
	} else if der, err := derOf(signer); len(signer) > 0 && err == nil {
		if line := snpProductLine(r, der, key); line != "Unknown" && line != "" {
			lines = []string{line}
		}
	}
	var out []KDSPaths
	for _, line := range lines {
		p := KDSPaths{ProductLine: line, Signer: key.String(),
			CertChain: strings.TrimPrefix(kds.ProductCertChainURL(key, line), kdsBase),
			CRL:       strings.TrimPrefix(kds.CrlLinkByKey(line, key), kdsBase)}
		switch {
		case key == sevabi.VlekReportSigner:
			p.NoVCEK = "the report is signed by a VLEK, which AMD's KDS issues only to the cloud provider that holds it: get the VLEK certificate from the provider (or the extended report) and put it in the certificate directory"
		case line != "Milan" && line != "Genoa":
			p.NoVCEK = fmt.Sprintf("fetching the VCEK of product line %q is not supported (its KDS URL and TCB layout differ from Milan's and Genoa's)", line)
		case allZero(r.proto.GetChipId()):
			p.NoVCEK = "CHIP_ID is masked by the host (all zeros), and the KDS finds a VCEK by it: get the VCEK from the host (or the extended report)"
		default:
			p.VCEK = strings.TrimPrefix(kds.VCEKCertURL(line, r.proto.GetChipId(), kds.TCBVersion(r.proto.GetReportedTcb())), kdsBase)
		}
		out = append(out, p)
	}
	return out, nil
}
