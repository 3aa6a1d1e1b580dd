package verifytest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
)

// TDXCollateral has the fields of TDXCollateral, in its order, so
// that a caller converts it with TDXCollateral(c) (this package
// cannot import verify, whose own tests use it).
type TDXCollateral struct {
	TCBInfo, TCBInfoIssuerChain       []byte
	QEIdentity, QEIdentityIssuerChain []byte
	PCKCRL, PCKCRLIssuerChain         []byte
	RootCRL                           []byte
	Sources                           []string
}

// DcapQVLCollateral reads a collateral file of Phala-Network/dcap-qvl
// (its QuoteCollateralV3 as JSON) into the shapes Intel's PCS serves:
// {"tcbInfo": <tcb_info>, "signature": "<tcb_info_signature>"} and the
// same for the QE identity, the signed values kept byte for byte; the CRLs
// decoded from hex.
func DcapQVLCollateral(path string) (TDXCollateral, error) {
	var c TDXCollateral
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return c, fmt.Errorf("%s: %v", path, err)
	}
	pck, err := hex.DecodeString(m["pck_crl"])
	if err != nil {
		return c, fmt.Errorf("%s: pck_crl: %v", path, err)
	}
	root, err := hex.DecodeString(m["root_ca_crl"])
	if err != nil {
		return c, fmt.Errorf("%s: root_ca_crl: %v", path, err)
	}
	return TDXCollateral{
		TCBInfo:               []byte(`{"tcbInfo":` + m["tcb_info"] + `,"signature":"` + m["tcb_info_signature"] + `"}`),
		TCBInfoIssuerChain:    []byte(m["tcb_info_issuer_chain"]),
		QEIdentity:            []byte(`{"enclaveIdentity":` + m["qe_identity"] + `,"signature":"` + m["qe_identity_signature"] + `"}`),
		QEIdentityIssuerChain: []byte(m["qe_identity_issuer_chain"]),
		PCKCRL:                pck,
		PCKCRLIssuerChain:     []byte(m["pck_crl_issuer_chain"]),
		RootCRL:               root,
		Sources:               []string{path},
	}, nil
}
