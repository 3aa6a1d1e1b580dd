package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Our own evaluation of Intel's TDX collateral (TCB info, QE identity,
// CRLs) against a quote verified by VerifyTDXQuote: what go-tdx-guest
// v0.3.1 cannot do for a version 5 quote or a PCK chain given apart from
// the quote. The rules are Intel's: PCS API v4 ("TDX TCB Info" v3, "TDX
// QE Identity" v2, their signatures), and the Quote Verification Library's
// QuoteVerifier.cpp and Checks/{TcbLevelCheck,TdxModuleCheck,
// TDRelaunchCheck}.cpp, steps 4.1.2.4.x, which are cited below.

// TD relaunch statuses: Intel's Quote Verification Library's for a TDX
// 1.5 body whose TDX module was updated in place since the TD launched
// (TDRelaunchCheck.cpp); the TCB info's own statuses are TCBUpToDate ...
// TCBRevoked (tdxcollateral.go).
const (
	TCBTDRelaunchAdvised                    = "TDRelaunchAdvised"
	TCBTDRelaunchAdvisedConfigurationNeeded = "TDRelaunchAdvisedConfigurationNeeded"
)

// tdxLevelStatuses are the statuses a TCB info level may carry
// (TcbStatus.h VALID_TCB_INFO_STATUSES); tdxModuleStatuses those of a TDX
// module identity's or QE identity's level (VALID_MODULE_TCB_STATUSES).
var (
	tdxLevelStatuses  = []string{TCBUpToDate, TCBSWHardeningNeeded, TCBConfigurationNeeded, TCBConfigurationAndSWHardeningNeeded, TCBOutOfDate, TCBOutOfDateConfigurationNeeded, TCBRevoked}
	tdxModuleStatuses = []string{TCBUpToDate, TCBOutOfDate, TCBRevoked}
)

// TDXTCB is what Intel's collateral says of a verified quote's platform,
// as EvaluateTDXTCB finds it.
type TDXTCB struct {
	// Status is the TCB status (TCBUpToDate ... TCBRevoked, or a TD
	// relaunch status), after Intel's rules combine the TCB level's, the
	// TDX module's and the QE's; empty when no TCB info was given.
	Status string
	// AdvisoryIDs are the Intel security advisories of the matched TCB
	// level, as Intel's QvE reports them (sa_list).
	AdvisoryIDs []string
	// TCBDate is the matched TCB level's tcbDate.
	TCBDate string
	// ModuleStatus is the status of the TDX module identity's level for
	// TEE_TCB_SVN[0]; empty when TEE_TCB_SVN[1] (the module's major
	// version) is 0 and the TCB info's tdxModule applies.
	ModuleStatus string
	// QEStatus is the QE identity's status for the QE report's ISVSVN;
	// empty when no QE identity was given.
	QEStatus string
	// TCBEvaluationDataNumber is the TCB info's (or, without it, the QE
	// identity's) tcbEvaluationDataNumber.
	TCBEvaluationDataNumber int
	// CRLs names each CRL checked, as Hardware.CRLs.
	CRLs []string
	// Limits says which parts of the collateral were missing.
	Limits []string
}

// maxTDXCollateralSize bounds each JSON document of the collateral; Intel's
// are a few tens of kilobytes.
const maxTDXCollateralSize = 1 << 20

// EvaluateTDXTCB checks c against q, whose chain VerifyTDXQuote verified
// into plat, at now: each CRL's signature, dates and entries (the root
// CRL: the PCK CA and TCB signing certificates; the PCK CRL: the PCK);
// the TCB info's and QE identity's signatures by Intel's TCB signing
// certificate chaining to plat.Root, and their issueDate and nextUpdate;
// the QE report against the QE identity; and the TCB status by Intel's
// rules. A part of c that is empty is not checked and Limits says so.
// Failed checks wrap ErrHardwareSignature; unreadable JSON ErrCollateral,
// which wraps it too: collateral that cannot be read verifies nothing.
// A status, even OutOfDate or Revoked, is not an error here.
func EvaluateTDXTCB(q *TDXQuote, plat *TDXPlatform, c TDXCollateral, now time.Time) (*TDXTCB, error) {
	if plat == nil || plat.PCK == nil || plat.Intermediate == nil || plat.Root == nil {
		return nil, fmt.Errorf("%w: no verified PCK chain to evaluate the collateral against", ErrNoCertificate)
	}
	if q.parsed.QE == nil {
		return nil, fmt.Errorf("%w: TDX quote carries no QE report to evaluate the collateral against", ErrHardwareSignature)
	}
	out := &TDXTCB{}
	// The TCB signing certificates, checked against the root CRL below.
	var signers []checkedCert

	var info *tdxTCBInfoJSON
	if len(c.TCBInfo) > 0 {
		var raw []byte
		var signer *x509.Certificate
		var err error
		if raw, signer, err = tdxSignedJSON("TCB info", c.TCBInfo, "tcbInfo", c.TCBInfoIssuerChain, plat.Root, now); err != nil {
			return nil, err
		}
		signers = append(signers, checkedCert{"TCB info signing", signer})
		if info, err = parseTDXTCBInfo(raw, now); err != nil {
			return nil, err
		}
	} else {
		out.Limits = append(out.Limits, "TCB info not given: TCB status not evaluated")
	}
	var qeID *tdxQEIdentityJSON
	if len(c.QEIdentity) > 0 {
		raw, signer, err := tdxSignedJSON("QE identity", c.QEIdentity, "enclaveIdentity", c.QEIdentityIssuerChain, plat.Root, now)
		if err != nil {
			return nil, err
		}
		signers = append(signers, checkedCert{"QE identity signing", signer})
		if qeID, err = parseTDXQEIdentity(raw, now); err != nil {
			return nil, err
		}
	} else {
		out.Limits = append(out.Limits, "QE identity not given: the QE not checked against Intel's identity")
	}

	// 4.1.2.4.6-7: revocation.
	if len(c.RootCRL) > 0 {
		crl, err := parseCRL("Intel's root CA CRL", c.RootCRL)
		if err != nil {
			return nil, err
		}
		d, err := checkCRL("Intel's root CA CRL", crl, plat.Root, now, append([]checkedCert{{"PCK CA", plat.Intermediate}}, signers...)...)
		if err != nil {
			return nil, err
		}
		out.CRLs = append(out.CRLs, d)
	} else {
		out.Limits = append(out.Limits, "root CA CRL not given: the PCK CA and TCB signing certificates not checked for revocation")
	}
	if len(c.PCKCRL) > 0 {
		if len(c.PCKCRLIssuerChain) > 0 {
			if _, err := tdxIssuerChain("PCK CRL issuer chain", c.PCKCRLIssuerChain, plat.Intermediate.Subject.CommonName, plat.Root, now); err != nil {
				return nil, err
			}
		}
		crl, err := parseCRL("the PCK CRL", c.PCKCRL)
		if err != nil {
			return nil, err
		}
		d, err := checkCRL("the PCK CRL", crl, plat.Intermediate, now, checkedCert{"PCK", plat.PCK})
		if err != nil {
			return nil, err
		}
		out.CRLs = append(out.CRLs, d)
	} else {
		out.Limits = append(out.Limits, "PCK CRL not given: the PCK certificate not checked for revocation")
	}

	// 4.1.2.4.14-15: the QE against Intel's QE identity.
	if qeID != nil {
		out.TCBEvaluationDataNumber = qeID.TCBEvaluationDataNumber
		st, err := qeID.status(&q.parsed.QE.Report)
		if err != nil {
			return nil, err
		}
		out.QEStatus = st
	}
	if info == nil {
		return out, nil
	}
	out.TCBEvaluationDataNumber = info.TCBEvaluationDataNumber
	if err := info.evaluate(q.parsed, plat, out); err != nil {
		return nil, err
	}
	return out, nil
}

// tdxSignedJSON splits a PCS body {"<key>": {...}, "signature": "hex"},
// checks the signature (ECDSA P-256 over SHA-256 of the exact bytes of
// the <key> value, r||s in hex) with the TCB signing certificate of
// chainPEM, which must chain to root at now, and returns the value's
// bytes and the signer.
func tdxSignedJSON(what string, body []byte, key string, chainPEM []byte, root *x509.Certificate, now time.Time) ([]byte, *x509.Certificate, error) {
	if len(body) > maxTDXCollateralSize {
		return nil, nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrCollateral, what, len(body), maxTDXCollateralSize)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("%w: %s is not a JSON object: %v", ErrCollateral, what, err)
	}
	raw, ok := doc[key]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s has no %q", ErrCollateral, what, key)
	}
	var sigHex string
	if err := json.Unmarshal(doc["signature"], &sigHex); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: \"signature\" is not a string: %v", ErrCollateral, what, err)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != 64 {
		return nil, nil, fmt.Errorf("%w: %s: signature %q, want 64 bytes in hex (r||s)", ErrCollateral, what, sigHex)
	}
	if len(chainPEM) == 0 {
		return nil, nil, fmt.Errorf("%w: %s given without its issuer chain", ErrNoCertificate, what)
	}
	signer, err := tdxIssuerChain(what+" issuer chain", chainPEM, cnTCBSigning, root, now)
	if err != nil {
		return nil, nil, err
	}
	if !tdxVerifyP256(signer.PublicKey.(*ecdsa.PublicKey), raw, sig) {
		return nil, nil, fmt.Errorf("%w: %s: the signature over %q does not verify with %q (serial %#x)", ErrHardwareSignature, what, key, signer.Subject.CommonName, signer.SerialNumber)
	}
	return raw, signer, nil
}

// tdxIssuerChain parses an issuer chain (PEM: the signing certificate and
// optionally the root, which must be the trusted root, in either order),
// checks the signing certificate's subject common name is cn and that it
// is signed by root, both valid at now, and returns it.
func tdxIssuerChain(what string, chainPEM []byte, cn string, root *x509.Certificate, now time.Time) (*x509.Certificate, error) {
	certs, err := tdxCerts(what, chainPEM)
	if err != nil {
		return nil, err
	}
	var s *x509.Certificate
	for _, c := range certs {
		switch {
		case c.Equal(root):
		case bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil:
			return nil, fmt.Errorf("%w: %s holds the root %s, not the trusted root %s", ErrHardwareSignature, what, describeRoot(c), describeRoot(root))
		case s != nil:
			return nil, fmt.Errorf("%w: %s holds two signing certificates, %q and %q", ErrHardwareSignature, what, s.Subject.CommonName, c.Subject.CommonName)
		default:
			s = c
		}
	}
	if s == nil {
		return nil, fmt.Errorf("%w: %s holds no %q certificate", ErrHardwareSignature, what, cn)
	}
	if s.Subject.CommonName != cn {
		return nil, fmt.Errorf("%w: %s: subject %q, want %q", ErrHardwareSignature, what, s.Subject.CommonName, cn)
	}
	if k, ok := s.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: %s: %q has a %T key, want ECDSA P-256", ErrHardwareSignature, what, cn, s.PublicKey)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	if _, err := s.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%w: %s: %q (serial %#x): %v", ErrHardwareSignature, what, cn, s.SerialNumber, err)
	}
	return s, nil
}

// tdxHexBytes is a JSON string of hex digits (either case).
type tdxHexBytes []byte

func (h *tdxHexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%q is not hex", s)
	}
	*h = d
	return nil
}

// tdxTCBComponent is one SVN of a TCB level. Intel's QVL casts an SVN above
// 255 to its low byte; here it is refused (parseTDXTCBInfo).
type tdxTCBComponent struct {
	SVN int `json:"svn"`
}

// tdxTCBLevelJSON is one of the TCB info's tcbLevels (PCS API v4, TDX TCB
// info v3).
type tdxTCBLevelJSON struct {
	TCB struct {
		SGX    []tdxTCBComponent `json:"sgxtcbcomponents"`
		PCESVN int               `json:"pcesvn"`
		TDX    []tdxTCBComponent `json:"tdxtcbcomponents"`
	} `json:"tcb"`
	TCBDate     string   `json:"tcbDate"`
	TCBStatus   string   `json:"tcbStatus"`
	AdvisoryIDs []string `json:"advisoryIDs"`
}

// tdxModuleIdentityJSON is the tdxModule of a TCB info, or one of its
// tdxModuleIdentities (with an id and TCB levels by ISVSVN).
type tdxModuleIdentityJSON struct {
	ID             string               `json:"id"`
	MRSIGNER       tdxHexBytes          `json:"mrsigner"`
	Attributes     tdxHexBytes          `json:"attributes"`
	AttributesMask tdxHexBytes          `json:"attributesMask"`
	TCBLevels      []tdxISVSVNLevelJSON `json:"tcbLevels"`
}

// tdxISVSVNLevelJSON is a TCB level by ISVSVN (QE identity, TDX module
// identity).
type tdxISVSVNLevelJSON struct {
	TCB struct {
		ISVSVN int `json:"isvsvn"`
	} `json:"tcb"`
	TCBDate     string   `json:"tcbDate"`
	TCBStatus   string   `json:"tcbStatus"`
	AdvisoryIDs []string `json:"advisoryIDs"`
}

// tdxTCBInfoJSON is the "tcbInfo" of PCS's TDX TCB info (version 3).
type tdxTCBInfoJSON struct {
	ID                      string                  `json:"id"`
	Version                 int                     `json:"version"`
	IssueDate               time.Time               `json:"issueDate"`
	NextUpdate              time.Time               `json:"nextUpdate"`
	FMSPC                   tdxHexBytes             `json:"fmspc"`
	PCEID                   tdxHexBytes             `json:"pceId"`
	TCBType                 int                     `json:"tcbType"`
	TCBEvaluationDataNumber int                     `json:"tcbEvaluationDataNumber"`
	TDXModule               *tdxModuleIdentityJSON  `json:"tdxModule"`
	TDXModuleIdentities     []tdxModuleIdentityJSON `json:"tdxModuleIdentities"`
	TCBLevels               []tdxTCBLevelJSON       `json:"tcbLevels"`
}

// tdxQEIdentityJSON is the "enclaveIdentity" of PCS's TDX QE identity
// (version 2).
type tdxQEIdentityJSON struct {
	ID                      string               `json:"id"`
	Version                 int                  `json:"version"`
	IssueDate               time.Time            `json:"issueDate"`
	NextUpdate              time.Time            `json:"nextUpdate"`
	TCBEvaluationDataNumber int                  `json:"tcbEvaluationDataNumber"`
	MISCSELECT              tdxHexBytes          `json:"miscselect"`
	MISCSELECTMask          tdxHexBytes          `json:"miscselectMask"`
	Attributes              tdxHexBytes          `json:"attributes"`
	AttributesMask          tdxHexBytes          `json:"attributesMask"`
	MRSIGNER                tdxHexBytes          `json:"mrsigner"`
	ISVPRODID               int                  `json:"isvprodid"`
	TCBLevels               []tdxISVSVNLevelJSON `json:"tcbLevels"`
}

// tdxCheckDates checks issueDate <= now <= nextUpdate.
func tdxCheckDates(what string, issue, next, now time.Time) error {
	if now.Before(issue) {
		return fmt.Errorf("%w: %s is not yet valid at %s: issueDate %s", ErrHardwareSignature, what, now.UTC().Format(time.RFC3339), issue.UTC().Format(time.RFC3339))
	}
	if now.After(next) {
		return fmt.Errorf("%w: %s has expired at %s: nextUpdate %s", ErrHardwareSignature, what, now.UTC().Format(time.RFC3339), next.UTC().Format(time.RFC3339))
	}
	return nil
}

func tdxOneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// parseTDXTCBInfo reads a TDX TCB info of version 3 and checks its dates and
// the form of every level, so that evaluate indexes nothing out of range.
func parseTDXTCBInfo(raw []byte, now time.Time) (*tdxTCBInfoJSON, error) {
	var t tdxTCBInfoJSON
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("%w: TCB info: %v", ErrCollateral, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: TCB info: %s", ErrCollateral, fmt.Sprintf(format, a...))
	}
	switch {
	case t.ID != "TDX" || t.Version != 3:
		return nil, fmt.Errorf("%w: TCB info id %q version %d, want TDX version 3", ErrHardwareSignature, t.ID, t.Version)
	case len(t.FMSPC) != 6 || len(t.PCEID) != 2:
		return nil, bad("fmspc of %d bytes and pceId of %d, want 6 and 2", len(t.FMSPC), len(t.PCEID))
	case t.TDXModule == nil:
		return nil, bad("no tdxModule")
	case len(t.TCBLevels) == 0:
		return nil, bad("no tcbLevels")
	}
	if err := tdxCheckDates("TCB info", t.IssueDate, t.NextUpdate, now); err != nil {
		return nil, err
	}
	for i, l := range t.TCBLevels {
		if len(l.TCB.SGX) != 16 || len(l.TCB.TDX) != 16 {
			return nil, bad("tcbLevels[%d] has %d SGX and %d TDX components, want 16 each", i, len(l.TCB.SGX), len(l.TCB.TDX))
		}
		for j := range 16 {
			for _, c := range []struct {
				name string
				svn  int
			}{{"sgxtcbcomponents", l.TCB.SGX[j].SVN}, {"tdxtcbcomponents", l.TCB.TDX[j].SVN}} {
				if c.svn < 0 || c.svn > 255 {
					return nil, bad("tcbLevels[%d].tcb.%s[%d].svn is %d, want 0 to 255", i, c.name, j, c.svn)
				}
			}
		}
		if l.TCB.PCESVN < 0 || l.TCB.PCESVN > 65535 {
			return nil, bad("tcbLevels[%d].tcb.pcesvn is %d, want 0 to 65535", i, l.TCB.PCESVN)
		}
		if !tdxOneOf(l.TCBStatus, tdxLevelStatuses) {
			return nil, bad("tcbLevels[%d].tcbStatus %q is not one of %s", i, l.TCBStatus, strings.Join(tdxLevelStatuses, ", "))
		}
	}
	for _, m := range append([]tdxModuleIdentityJSON{*t.TDXModule}, t.TDXModuleIdentities...) {
		if len(m.MRSIGNER) != 48 || len(m.Attributes) != 8 || len(m.AttributesMask) != 8 {
			return nil, bad("TDX module %q: mrsigner, attributes and attributesMask of %d, %d and %d bytes, want 48, 8 and 8", m.ID, len(m.MRSIGNER), len(m.Attributes), len(m.AttributesMask))
		}
		for i, l := range m.TCBLevels {
			if !tdxOneOf(l.TCBStatus, tdxModuleStatuses) {
				return nil, bad("TDX module %q tcbLevels[%d].tcbStatus %q is not one of %s", m.ID, i, l.TCBStatus, strings.Join(tdxModuleStatuses, ", "))
			}
		}
	}
	return &t, nil
}

// parseTDXQEIdentity reads a TDX QE identity (id TD_QE, version 2).
func parseTDXQEIdentity(raw []byte, now time.Time) (*tdxQEIdentityJSON, error) {
	var e tdxQEIdentityJSON
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%w: QE identity: %v", ErrCollateral, err)
	}
	switch {
	case e.ID != "TD_QE" || e.Version != 2:
		return nil, fmt.Errorf("%w: QE identity id %q version %d, want TD_QE version 2", ErrHardwareSignature, e.ID, e.Version)
	case len(e.MISCSELECT) != 4 || len(e.MISCSELECTMask) != 4 || len(e.Attributes) != 16 || len(e.AttributesMask) != 16 || len(e.MRSIGNER) != 32:
		return nil, fmt.Errorf("%w: QE identity: miscselect, miscselectMask, attributes, attributesMask, mrsigner of %d, %d, %d, %d, %d bytes, want 4, 4, 16, 16, 32",
			ErrCollateral, len(e.MISCSELECT), len(e.MISCSELECTMask), len(e.Attributes), len(e.AttributesMask), len(e.MRSIGNER))
	case len(e.TCBLevels) == 0:
		return nil, fmt.Errorf("%w: QE identity: no tcbLevels", ErrCollateral)
	}
	for i, l := range e.TCBLevels {
		if !tdxOneOf(l.TCBStatus, tdxModuleStatuses) {
			return nil, fmt.Errorf("%w: QE identity: tcbLevels[%d].tcbStatus %q is not one of %s", ErrCollateral, i, l.TCBStatus, strings.Join(tdxModuleStatuses, ", "))
		}
	}
	if err := tdxCheckDates("QE identity", e.IssueDate, e.NextUpdate, now); err != nil {
		return nil, err
	}
	return &e, nil
}

// tdxMasked reports whether b & mask == want, byte by byte.
func tdxMasked(b, mask, want []byte) bool {
	if len(b) != len(mask) || len(b) != len(want) {
		return false
	}
	for i := range b {
		if b[i]&mask[i] != want[i] {
			return false
		}
	}
	return true
}

// tdxFirstLevel returns the first level, in the order Intel lists them
// (highest first), whose ISVSVN is at most svn.
func tdxFirstLevel(levels []tdxISVSVNLevelJSON, svn int) *tdxISVSVNLevelJSON {
	for i := range levels {
		if levels[i].TCB.ISVSVN <= svn {
			return &levels[i]
		}
	}
	return nil
}

// status matches the QE report against the QE identity (EnclaveReport
// Verifier.cpp, 4.1.2.9.5-10) and returns the status of the QE's ISVSVN.
func (e *tdxQEIdentityJSON) status(r *sgxReport) (string, error) {
	switch {
	case !tdxMasked(r.MISCSELECT[:], e.MISCSELECTMask, e.MISCSELECT):
		return "", fmt.Errorf("%w: QE report MISCSELECT %x & mask %x is not the QE identity's %x", ErrHardwareSignature, r.MISCSELECT, []byte(e.MISCSELECTMask), []byte(e.MISCSELECT))
	case !tdxMasked(r.ATTRIBUTES[:], e.AttributesMask, e.Attributes):
		return "", fmt.Errorf("%w: QE report ATTRIBUTES %x & mask %x is not the QE identity's %x", ErrHardwareSignature, r.ATTRIBUTES, []byte(e.AttributesMask), []byte(e.Attributes))
	case !bytes.Equal(r.MRSIGNER[:], e.MRSIGNER):
		return "", fmt.Errorf("%w: QE report MRSIGNER %x, want the QE identity's %x", ErrHardwareSignature, r.MRSIGNER, []byte(e.MRSIGNER))
	case int(r.ISVPRODID) != e.ISVPRODID:
		return "", fmt.Errorf("%w: QE report ISVPRODID %d, want the QE identity's %d", ErrHardwareSignature, r.ISVPRODID, e.ISVPRODID)
	}
	l := tdxFirstLevel(e.TCBLevels, int(r.ISVSVN))
	if l == nil {
		return "", fmt.Errorf("%w: QE report ISVSVN %d is below every TCB level of the QE identity: TCB not supported", ErrHardwareSignature, r.ISVSVN)
	}
	return l.TCBStatus, nil
}

// evaluate matches q's platform against the TCB info (4.1.2.4.9-11 and
// 4.1.2.4.17) and fills out's status, advisories and date.
func (t *tdxTCBInfoJSON) evaluate(p *parsedQuote, plat *TDXPlatform, out *TDXTCB) error {
	// 4.1.2.4.10: the TCB info is for this platform.
	if !bytes.Equal(t.FMSPC, plat.FMSPC) || !bytes.Equal(t.PCEID, plat.PCEID) {
		return fmt.Errorf("%w: TCB info is for FMSPC %x PCEID %x, the PCK certificate for FMSPC %x PCEID %x", ErrHardwareSignature, []byte(t.FMSPC), []byte(t.PCEID), plat.FMSPC, plat.PCEID)
	}
	td := &p.Body.TD10
	svn := td.TEETCBSVN

	// 4.1.2.4.11: the TDX module, by the identity of its major version
	// (TEE_TCB_SVN[1]) when that is not 0.
	module, moduleName := t.TDXModule, "tdxModule"
	if svn[1] > 0 {
		module = t.moduleIdentity(svn[1])
		if module == nil {
			return fmt.Errorf("%w: TCB info has no TDX module identity TDX_%02X for TEE_TCB_SVN[1] = %d", ErrHardwareSignature, svn[1], svn[1])
		}
		moduleName = "TDX module identity " + module.ID
	}
	if !bytes.Equal(td.MRSIGNERSEAM[:], module.MRSIGNER) {
		return fmt.Errorf("%w: MRSIGNERSEAM %x, want the %s's mrsigner %x", ErrHardwareSignature, td.MRSIGNERSEAM, moduleName, []byte(module.MRSIGNER))
	}
	if !tdxMasked(td.SEAMATTRIBUTES[:], module.AttributesMask, module.Attributes) {
		return fmt.Errorf("%w: SEAMATTRIBUTES %x & mask %x is not the %s's attributes %x", ErrHardwareSignature, td.SEAMATTRIBUTES, []byte(module.AttributesMask), moduleName, []byte(module.Attributes))
	}

	// 4.1.2.4.17.1-3: the first (highest) level whose SGX components and
	// PCESVN the PCK certificate meets, and the first of those whose TDX
	// components TEE_TCB_SVN meets (from index 2 when TEE_TCB_SVN[1] is
	// not 0: the module's SVNs are then judged by its identity).
	var sgxLevel, tdxLevel *tdxTCBLevelJSON
	for i := range t.TCBLevels {
		l := &t.TCBLevels[i]
		if !tdxAtLeast(plat.SGXTCBComponents[:], l.TCB.SGX, 0) || int(plat.PCESVN) < l.TCB.PCESVN {
			continue
		}
		if sgxLevel == nil {
			sgxLevel = l
		}
		from := 0
		if svn[1] > 0 {
			from = 2
		}
		if tdxAtLeast(svn[:], l.TCB.TDX, from) {
			tdxLevel = l
			break
		}
	}
	if sgxLevel == nil {
		return fmt.Errorf("%w: no TCB level of the TCB info is met by the PCK certificate's SGX TCB %x PCESVN %d: TCB not supported", ErrHardwareSignature, plat.SGXTCBComponents, plat.PCESVN)
	}
	if tdxLevel == nil {
		return fmt.Errorf("%w: no TCB level of the TCB info is met by TEE_TCB_SVN %x: TCB not supported", ErrHardwareSignature, svn)
	}
	out.TCBDate, out.AdvisoryIDs = tdxLevel.TCBDate, tdxLevel.AdvisoryIDs

	// 4.1.2.4.17.4.1: the TDX module's own status.
	moduleStatus := TCBUpToDate
	if svn[1] > 0 {
		l := tdxFirstLevel(module.TCBLevels, int(svn[0]))
		if l == nil {
			return fmt.Errorf("%w: TDX module ISVSVN %d (TEE_TCB_SVN[0]) is below every level of %s: TCB not supported", ErrHardwareSignature, svn[0], moduleName)
		}
		moduleStatus = l.TCBStatus
		out.ModuleStatus = moduleStatus
	}
	status := tdxConvergeModule(tdxLevel.TCBStatus, moduleStatus)
	if status == TCBRevoked {
		out.Status = status
		return nil
	}
	// 4.1.2.4.17.4.3: a TDX 1.5 body may show the module was updated in
	// place since the TD launched.
	if p.BodyType == bodyTypeTD15 {
		var err error
		if status, err = t.relaunch(p.Body.TEETCBSVN2, sgxLevel.TCBStatus, status, moduleStatus, out.QEStatus); err != nil {
			return err
		}
	}
	out.Status = tdxConvergeQE(status, out.QEStatus)
	return nil
}

// moduleIdentity returns the TDX module identity TDX_<major>, its id
// compared in upper case as Intel's QVL does.
func (t *tdxTCBInfoJSON) moduleIdentity(major byte) *tdxModuleIdentityJSON {
	want := fmt.Sprintf("TDX_%02X", major)
	for i := range t.TDXModuleIdentities {
		if strings.ToUpper(t.TDXModuleIdentities[i].ID) == want {
			return &t.TDXModuleIdentities[i]
		}
	}
	return nil
}

// tdxAtLeast reports whether have[i] >= level[i].SVN for every i from from.
func tdxAtLeast(have []byte, level []tdxTCBComponent, from int) bool {
	for i := from; i < len(have) && i < len(level); i++ {
		if int(have[i]) < level[i].SVN {
			return false
		}
	}
	return true
}

// tdxConvergeModule combines the TCB level's status with the TDX module's
// (TdxModuleCheck.cpp convergeTcbStatusWithTdxModuleStatus).
func tdxConvergeModule(level, module string) string {
	switch {
	case module == TCBOutOfDate && (level == TCBUpToDate || level == TCBSWHardeningNeeded):
		return TCBOutOfDate
	case module == TCBOutOfDate && (level == TCBConfigurationNeeded || level == TCBConfigurationAndSWHardeningNeeded):
		return TCBOutOfDateConfigurationNeeded
	case module == TCBRevoked:
		return TCBRevoked
	}
	return level
}

// tdxConvergeQE combines a status with the QE identity's (TcbLevelCheck.cpp
// convergeTcbStatusWithQeTcbStatus); qe is empty without a QE identity.
func tdxConvergeQE(status, qe string) string {
	switch {
	case qe == TCBOutOfDate && (status == TCBUpToDate || status == TCBSWHardeningNeeded):
		return TCBOutOfDate
	case qe == TCBOutOfDate && (status == TCBConfigurationNeeded || status == TCBConfigurationAndSWHardeningNeeded):
		return TCBOutOfDateConfigurationNeeded
	case qe == TCBRevoked:
		return TCBRevoked
	}
	return status
}

func tdxConfigurationNeeded(s string) bool {
	switch s {
	case TCBConfigurationNeeded, TCBOutOfDateConfigurationNeeded, TCBConfigurationAndSWHardeningNeeded, TCBTDRelaunchAdvisedConfigurationNeeded:
		return true
	}
	return false
}

// relaunch is TDRelaunchCheck.cpp's checkForRelaunch: when only the TDX
// module is out of date, but TEE_TCB_SVN2 (the SVNs after a TD-preserving
// update) meets the latest TCB level, relaunching the TD brings it up to
// date.
func (t *tdxTCBInfoJSON) relaunch(svn2 [16]byte, sgxStatus, tdxStatus, moduleStatus, qeStatus string) (string, error) {
	if qeStatus == TCBOutOfDate || qeStatus == TCBRevoked {
		return tdxStatus, nil
	}
	switch sgxStatus {
	case TCBUpToDate, TCBSWHardeningNeeded, TCBConfigurationNeeded, TCBConfigurationAndSWHardeningNeeded:
	default:
		return tdxStatus, nil
	}
	if (tdxStatus != TCBOutOfDate && tdxStatus != TCBOutOfDateConfigurationNeeded) || moduleStatus != TCBOutOfDate {
		return tdxStatus, nil
	}
	latest := &t.TCBLevels[0]
	moduleSVN := latest.TCB.TDX[0].SVN
	if svn2[1] != 0 {
		m := t.moduleIdentity(svn2[1])
		if m == nil {
			return "", fmt.Errorf("%w: TCB info has no TDX module identity TDX_%02X for TEE_TCB_SVN2[1] = %d", ErrHardwareSignature, svn2[1], svn2[1])
		}
		if len(m.TCBLevels) == 0 {
			return "", fmt.Errorf("%w: TDX module identity %s has no TCB levels", ErrHardwareSignature, m.ID)
		}
		moduleSVN = m.TCBLevels[0].TCB.ISVSVN
	}
	if int(svn2[0]) < moduleSVN || int(svn2[2]) < latest.TCB.TDX[2].SVN {
		return tdxStatus, nil
	}
	if tdxConfigurationNeeded(sgxStatus) || tdxConfigurationNeeded(tdxStatus) {
		return TCBTDRelaunchAdvisedConfigurationNeeded, nil
	}
	return TCBTDRelaunchAdvised, nil
}
