//go:build !measure_front

package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/internal/collateral"
	"github.com/measure-cc/measure/verify"
)

// certsOptions is --certs, --verify-time and the collateral flags:
// certificates, CRLs and Intel collateral for the hardware signature, from
// files and, with --fetch, from AMD's KDS or Intel's PCS through a cache.
type certsOptions struct {
	dir        string
	at         string
	trustRoots []string
	skip       bool
	fetch      bool
	cache      string
	kdsURL     string
	pcsURL     string
	tcbStatus  string
}

// certsHelp documents the file names --certs reads.
const certsHelp = `directory with the certificates and collateral to check the hardware signature (see docs/compare.md). ` +
	`SEV-SNP: vcek, vlek, ask or asvk, ark, or cert_chain (ASK then ARK, PEM), and crl (AMD's CRL, DER or PEM). ` +
	`TDX: root; pck_cert and pck_sign_chain (or pckCert.pem, pckSignChain.pem) for a quote without its PCK chain; tcb_info.json with tcb_info_issuer_chain.pem, qe_identity.json with qe_identity_issuer_chain.pem, ` +
	`pck_crl (with pck_crl_issuer_chain.pem) and root_crl. Certificates and CRLs may end .der, .pem, .crt, .cer or .cert`

func (o *certsOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.dir, "certs", "", certsHelp)
	fs.StringVar(&o.at, "verify-time", "", "RFC 3339 time at which certificates must be valid (default now)")
	fs.StringArrayVar(&o.trustRoots, "trust-root", nil, "a root certificate (DER or PEM) to trust besides the vendor's; repeatable")
	fs.BoolVar(&o.skip, "no-hardware-check", false, "accept evidence whose hardware signature is not verified (exit 0 instead of 23)")
	fs.BoolVar(&o.fetch, "fetch", false, "get what --certs lacks from AMD's KDS (VCEK, cert_chain, CRL) or Intel's PCS (TCB info, QE identity, CRLs), through the cache; without it nothing touches the network. All of it is verified to the vendor's roots")
	fs.StringVar(&o.cache, "cache", "", "collateral cache directory (default $XDG_CACHE_HOME/measure/collateral or ~/.cache/measure/collateral); read without --fetch too when given")
	fs.StringVar(&o.kdsURL, "kds-url", collateral.DefaultKDS, "base URL of AMD's KDS or a mirror with its paths, for --fetch")
	fs.StringVar(&o.pcsURL, "pcs-url", collateral.DefaultPCS, "base URL of Intel's PCS or a PCCS (API v4 paths), for --fetch")
	fs.StringVar(&o.tcbStatus, "tcb-status", "", "TDX: TCB statuses to accept besides UpToDate and SWHardeningNeeded, comma-separated (e.g. OutOfDate,ConfigurationNeeded); Revoked always fails")
}

// validate checks the collateral flags' values.
func (o *certsOptions) validate(platform string) error {
	if o.tcbStatus != "" {
		if platform != "tdx" {
			return usagef("--tcb-status applies to TDX quotes")
		}
		if _, err := verify.ParseTCBStatuses(o.tcbStatus); err != nil {
			return usagef("--tcb-status: %v", err)
		}
	}
	for _, u := range []struct{ flag, v string }{{"kds-url", o.kdsURL}, {"pcs-url", o.pcsURL}} {
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.RawQuery != "" {
			return usagef("--%s %q: want an http(s) URL without a query", u.flag, u.v)
		}
	}
	return nil
}

// fetcher returns the collateral fetcher: online with --fetch; reading the
// cache alone when only --cache is given; nil when neither.
func (o *certsOptions) fetcher() (*collateral.Fetcher, error) {
	if !o.fetch && o.cache == "" {
		return nil, nil
	}
	dir := o.cache
	if dir == "" {
		d, err := collateral.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return &collateral.Fetcher{Dir: dir, Online: o.fetch}, nil
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

// hardware verifies the evidence's hardware signature from the files in
// --certs and, with --fetch or --cache, what the KDS or PCS serves; with
// none of them it returns an unchecked result. A TDX TCB status the policy
// does not accept is returned with the hardware, as an error wrapping
// verify.ErrPolicy.
func (o *certsOptions) hardware(ctx context.Context, ev verify.Evidence) (verify.Hardware, error) {
	if err := o.validate(ev.Platform()); err != nil {
		return verify.Hardware{}, err
	}
	f, err := o.fetcher()
	if err != nil {
		return verify.Hardware{}, err
	}
	if o.dir == "" && f == nil {
		return verify.Hardware{}, nil
	}
	var dir verify.CertsDir
	if o.dir != "" {
		st, err := os.Stat(o.dir)
		if err != nil {
			return verify.Hardware{}, err
		}
		if !st.IsDir() {
			return verify.Hardware{}, usagef("--certs %q is not a directory", o.dir)
		}
		dir = verify.CertsDir{FS: os.DirFS(o.dir), Name: o.dir}
	}
	now, err := o.time()
	if err != nil {
		return verify.Hardware{}, err
	}
	var hw *verify.Hardware
	switch e := ev.(type) {
	case *verify.SNPReport:
		c, err := o.snpCerts(ctx, f, dir, e)
		if err != nil {
			return verify.Hardware{}, err
		}
		if hw, err = verify.VerifySNPSignature(e, c, now); err != nil {
			return verify.Hardware{}, err
		}
	case *verify.TDXQuote:
		var files verify.TDXFiles
		if dir.FS != nil {
			if files, err = dir.TDX(); err != nil {
				return verify.Hardware{}, err
			}
		}
		col, err := o.tdxCollateral(ctx, f, e, files)
		if err != nil {
			return verify.Hardware{}, err
		}
		if hw, err = verify.VerifyTDXSignatureWith(e, verify.TDXVerifyOptions{Root: files.Root, Now: now, PCK: files.PCK, Collateral: col}); err != nil {
			return verify.Hardware{}, err
		}
		accept, _ := verify.ParseTCBStatuses(o.tcbStatus)
		if err := verify.CheckTCBStatus(*hw, accept); err != nil {
			return *hw, err
		}
	default:
		return verify.Hardware{}, fmt.Errorf("evidence of type %T", ev)
	}
	return *hw, nil
}

// snpCerts gathers the certificates and CRL for r: files in --certs first,
// then what the report's certificate table carries, then the KDS.
func (o *certsOptions) snpCerts(ctx context.Context, f *collateral.Fetcher, dir verify.CertsDir, r *verify.SNPReport) (verify.SNPCerts, error) {
	var c verify.SNPCerts
	if dir.FS != nil {
		var err error
		if c, err = dir.SNPCerts(); err != nil {
			return c, err
		}
	}
	if r.Extended() {
		c.Sources = append(c.Sources, "report certificate table")
	}
	if f == nil {
		return c, nil
	}
	signer := c.VCEK
	if signer == nil {
		signer = c.VLEK
	}
	if signer == nil {
		signer = r.TableSigner()
	}
	cands, err := verify.SNPKDSPaths(r, signer)
	if err != nil {
		return c, err
	}
	get := func(path string) ([]byte, error) {
		u := collateral.Join(o.kdsURL, path)
		resp, err := f.Get(ctx, u, collateral.KindOf(u))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", verify.ErrNoCertificate, err)
		}
		c.Sources = append(c.Sources, resp.Source())
		return resp.Body, nil
	}
	kds := cands[0]
	if signer == nil {
		// The VCEK: on a version 2 report, which names no product
		// line, the first line whose KDS has one.
		for i, p := range cands {
			if p.VCEK == "" {
				return c, fmt.Errorf("%w: %s", verify.ErrNoCertificate, p.NoVCEK)
			}
			u := collateral.Join(o.kdsURL, p.VCEK)
			resp, err := f.Get(ctx, u, collateral.Immutable)
			if errors.Is(err, collateral.ErrNotFound) && i < len(cands)-1 {
				continue
			}
			if err != nil {
				return c, fmt.Errorf("%w: %v", verify.ErrNoCertificate, err)
			}
			c.VCEK, kds = resp.Body, p
			c.Sources = append(c.Sources, resp.Source())
			break
		}
	}
	if c.ASK == nil && c.ARK == nil {
		chain, err := get(kds.CertChain)
		if err != nil {
			return c, err
		}
		if c.ASK, c.ARK, err = verify.SplitSNPCertChain(chain); err != nil {
			return c, fmt.Errorf("%s: %w", collateral.Join(o.kdsURL, kds.CertChain), err)
		}
	}
	if c.CRL == nil {
		if c.CRL, err = get(kds.CRL); err != nil {
			return c, err
		}
	}
	return c, nil
}

// tdxCollateral gathers Intel's collateral for q: the files in --certs,
// then with a fetcher the PCS (or its cache) for what is missing. It
// returns nil when there is none.
func (o *certsOptions) tdxCollateral(ctx context.Context, f *collateral.Fetcher, q *verify.TDXQuote, files verify.TDXFiles) (*verify.TDXCollateral, error) {
	var col verify.TDXCollateral
	if files.Collateral != nil {
		col = *files.Collateral
	}
	pck := files.PCK
	if f != nil {
		key, err := verify.TDXCollateralKeyOf(q, pck)
		if err != nil {
			return nil, err
		}
		pcs := o.pcsURL
		get := func(u string, body, chain *[]byte, header string) error {
			if *body != nil {
				return nil
			}
			resp, err := f.Get(ctx, u, collateral.Mutable)
			if err != nil {
				return fmt.Errorf("%w: %v", verify.ErrNoCertificate, err)
			}
			*body = resp.Body
			col.Sources = append(col.Sources, resp.Source())
			if chain == nil || *chain != nil {
				return nil
			}
			v := resp.Header[textproto.CanonicalMIMEHeaderKey(header)]
			if len(v) != 1 {
				return fmt.Errorf("%w: %s: %d %s headers, want 1", verify.ErrNoCertificate, u, len(v), header)
			}
			dec, err := url.QueryUnescape(v[0])
			if err != nil {
				return fmt.Errorf("%w: %s: %s header: %v", verify.ErrHardwareSignature, u, header, err)
			}
			*chain = []byte(dec)
			return nil
		}
		rootCRL := collateral.IntelRootCRL
		if strings.TrimRight(pcs, "/") != collateral.DefaultPCS {
			rootCRL = collateral.Join(pcs, "/sgx/certification/v4/rootcacrl")
		}
		for _, g := range []struct {
			url         string
			body, chain *[]byte
			header      string
		}{
			{collateral.Join(pcs, "/tdx/certification/v4/tcb?fmspc="+key.FMSPC), &col.TCBInfo, &col.TCBInfoIssuerChain, collateral.HeaderTCBInfoIssuerChain},
			{collateral.Join(pcs, "/tdx/certification/v4/qe/identity"), &col.QEIdentity, &col.QEIdentityIssuerChain, collateral.HeaderQEIdentityIssuerChain},
			{collateral.Join(pcs, "/sgx/certification/v4/pckcrl?ca="+key.CA+"&encoding=der"), &col.PCKCRL, &col.PCKCRLIssuerChain, collateral.HeaderPCKCRLIssuerChain},
			{rootCRL, &col.RootCRL, nil, ""},
		} {
			if err := get(g.url, g.body, g.chain, g.header); err != nil {
				return nil, err
			}
		}
		// A PCCS may serve the root CA CRL as hex.
		// DER is binary, so it never decodes as hex.
		if der, err := hex.DecodeString(string(bytes.TrimSpace(col.RootCRL))); err == nil && len(der) > 0 {
			col.RootCRL = der
		}
	}
	if len(col.Sources) == 0 {
		return nil, nil
	}
	return &col, nil
}
