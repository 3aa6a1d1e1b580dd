package main

import (
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/verify"
)

// certsOptions is --certs and --verify-time: offline material for the
// hardware signature.
type certsOptions struct {
	dir        string
	at         string
	trustRoots []string
	skip       bool
}

func (o *certsOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.dir, "certs", "", "directory with the certificates to check the hardware signature offline (see docs/compare.md)")
	fs.StringVar(&o.at, "verify-time", "", "RFC 3339 time at which certificates must be valid (default now)")
	fs.StringArrayVar(&o.trustRoots, "trust-root", nil, "a root certificate (DER or PEM) to trust besides the vendor's; repeatable")
	fs.BoolVar(&o.skip, "no-hardware-check", false, "accept evidence whose hardware signature is not verified (exit 0 instead of 23)")
}

// trust returns what the caller accepts besides a chain to the vendor's
// root.
func (o *certsOptions) trust() (verify.HardwareTrust, error) {
	t := verify.HardwareTrust{Skip: o.skip}
	for _, p := range o.trustRoots {
		b, err := readFileLimit(p, 1<<20)
		if err != nil {
			return t, err
		}
		fp, err := verify.RootFingerprint(b)
		if err != nil {
			return t, usagef("--trust-root %q: %v", p, err)
		}
		t.Roots = append(t.Roots, fp)
	}
	return t, nil
}

func (o *certsOptions) time() (time.Time, error) {
	if o.at == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, o.at)
	if err != nil {
		return time.Time{}, usagef("--verify-time %q: want RFC 3339, e.g. 2024-06-01T00:00:00Z", o.at)
	}
	return t, nil
}

// certFile names a certificate file in --certs: the first existing of the
// stems with any of the extensions.
var certExts = []string{".der", ".pem", ".crt", ".cer", ".cert"}

func readCert(dir string, stems ...string) ([]byte, string, error) {
	for _, stem := range stems {
		for _, ext := range certExts {
			p := filepath.Join(dir, stem+ext)
			b, err := readFileLimit(p, maxKeySize)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return b, p, err
		}
	}
	return nil, "", nil
}

// hardware verifies the evidence's hardware signature from the files in
// --certs; without --certs it returns an unchecked result.
func (o *certsOptions) hardware(ev verify.Evidence) (verify.Hardware, error) {
	if o.dir == "" {
		return verify.Hardware{}, nil
	}
	st, err := os.Stat(o.dir)
	if err != nil {
		return verify.Hardware{}, err
	}
	if !st.IsDir() {
		return verify.Hardware{}, usagef("--certs %q is not a directory", o.dir)
	}
	now, err := o.time()
	if err != nil {
		return verify.Hardware{}, err
	}
	var hw *verify.Hardware
	switch e := ev.(type) {
	case *verify.SNPReport:
		var c verify.SNPCerts
		for _, f := range []struct {
			out   *[]byte
			stems []string
		}{{&c.VCEK, []string{"vcek"}}, {&c.VLEK, []string{"vlek"}}, {&c.ASK, []string{"ask", "asvk"}}, {&c.ARK, []string{"ark"}}} {
			if *f.out, _, err = readCert(o.dir, f.stems...); err != nil {
				return verify.Hardware{}, err
			}
		}
		if c.ASK == nil && c.ARK == nil {
			chain, path, err := readCert(o.dir, "cert_chain", "ask_ark")
			if err != nil {
				return verify.Hardware{}, err
			}
			if chain != nil {
				if c.ASK, c.ARK, err = splitChain(chain); err != nil {
					return verify.Hardware{}, fmt.Errorf("%q: %w", path, err)
				}
			}
		}
		hw, err = verify.VerifySNPSignature(e, c, now)
	case *verify.TDXQuote:
		root, _, err := readCert(o.dir, "root", "Intel_SGX_Provisioning_Certification_RootCA")
		if err != nil {
			return verify.Hardware{}, err
		}
		hw, err = verify.VerifyTDXSignature(e, root, now)
		if err != nil {
			return verify.Hardware{}, err
		}
	}
	if err != nil {
		return verify.Hardware{}, err
	}
	return *hw, nil
}

// splitChain splits a KDS cert_chain (PEM: the ASK, then the ARK).
func splitChain(b []byte) (ask, ark []byte, err error) {
	var certs [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		certs = append(certs, blk.Bytes)
	}
	if len(certs) != 2 {
		return nil, nil, fmt.Errorf("%d PEM certificates, want 2 (ASK then ARK)", len(certs))
	}
	return certs[0], certs[1], nil
}

