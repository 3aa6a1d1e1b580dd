// Package collateral gets the vendors' attestation collateral (AMD KDS
// certificates and CRLs, Intel PCS TCB info, QE identity and CRLs) from a
// local cache and, only when the caller allows it, from the network.
//
// Nothing it returns is trusted: the network, a PCCS, a proxy and the cache
// directory may all lie. Every certificate, CRL, TCB info and QE identity
// obtained here is verified afterwards by package verify, by signature, to
// the vendor roots built into measure (or a root the user names). This
// package only bounds what it reads (size, time, cancellation), keeps what
// it got, and says where it came from.
//
// It does not parse or verify collateral, except to read the nextUpdate of
// a CRL, TCB info or QE identity for cache freshness; a wrong date there
// costs at most a needless or a missed refetch, never a verdict.
package collateral

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Default service base URLs. A PCCS or a mirror that keeps the same path
// layout can stand in for either.
const (
	// DefaultKDS is AMD's Key Distribution Service.
	DefaultKDS = "https://kdsintf.amd.com"
	// DefaultPCS is Intel's Provisioning Certification Service (API v4).
	DefaultPCS = "https://api.trustedservices.intel.com"
	// IntelRootCRL is the CRL distribution point named in Intel's SGX root
	// CA certificate; with the default PCS the root CA CRL comes from here.
	IntelRootCRL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
)

// Response headers in which Intel's PCS (and a PCCS) return the chain that
// signed the body, URL-encoded PEM (Intel PCS API v4 specification).
const (
	HeaderTCBInfoIssuerChain    = "TCB-Info-Issuer-Chain"
	HeaderQEIdentityIssuerChain = "SGX-Enclave-Identity-Issuer-Chain"
	HeaderPCKCRLIssuerChain     = "SGX-PCK-CRL-Issuer-Chain"
)

// Defaults of a Fetcher's zero fields.
const (
	DefaultMaxSize = 4 << 20
	DefaultTimeout = 30 * time.Second
	DefaultMaxAge  = 24 * time.Hour
)

// Kind says how long a cached resource stays good.
type Kind int

const (
	// Immutable resources (certificates) are cached for ever: a
	// certificate at a URL does not change, and its validity is checked
	// when it is verified.
	Immutable Kind = iota
	// Mutable resources (CRLs, TCB info, QE identity) are fetched again,
	// when the Fetcher is Online, once the cached copy is older than MaxAge
	// or past its own nextUpdate.
	Mutable
)

// Errors callers branch on.
var (
	// ErrNotCached: the resource is not in the cache and the Fetcher may
	// not use the network.
	ErrNotCached = errors.New("not in the collateral cache")
	// ErrRateLimited: the service answered HTTP 429.
	ErrRateLimited = errors.New("rate limited by the service (HTTP 429)")
	// ErrNotFound: the service answered HTTP 404.
	ErrNotFound = errors.New("not found (HTTP 404)")
	// ErrBadResponse: the service's answer is not usable (another HTTP
	// status, an empty, oversized or truncated body).
	ErrBadResponse = errors.New("bad response")
)

// Fetcher gets URLs through a cache. The zero Fetcher has no cache and
// may not use the network: every Get fails with ErrNotCached.
type Fetcher struct {
	// Dir is the cache directory; empty for none.
	Dir string
	// Online allows requests to the network. Without it nothing but the
	// cache is read.
	Online bool
	// Client makes the requests; nil for an http.Client with Timeout.
	Client *http.Client
	// Timeout bounds one request, including reading its body
	// (DefaultTimeout when 0); it applies only when Client is nil.
	Timeout time.Duration
	// MaxSize bounds a response body (DefaultMaxSize when 0).
	MaxSize int64
	// MaxAge is how old a cached Mutable resource may be before an Online
	// Fetcher fetches it again (DefaultMaxAge when 0).
	MaxAge time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Headers are the response headers kept with a body (the three
	// issuer-chain headers when nil).
	Headers []string
}

// Response is a body and the headers kept with it.
type Response struct {
	URL string
	// Header holds the kept headers, keys in canonical form
	// (Tcb-Info-Issuer-Chain), values as the service sent them.
	Header map[string][]string
	Body   []byte
	// Fetched is when the body was received from the network.
	Fetched time.Time
	// Cached is true when the body was read from the cache.
	Cached bool
}

// Source names where r came from: its URL, with " (cache)" when it was
// read from the cache.
func (r *Response) Source() string {
	if r.Cached {
		return r.URL + " (cache)"
	}
	return r.URL
}

// DefaultDir is the default cache directory:
// $XDG_CACHE_HOME/measure/collateral, else ~/.cache/measure/collateral.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "measure", "collateral"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("collateral cache: no $XDG_CACHE_HOME and no home directory: %v", err)
	}
	return filepath.Join(home, ".cache", "measure", "collateral"), nil
}

// Join appends a service path (starting with "/") to a base URL, which may
// end in "/".
func Join(base, path string) string {
	return strings.TrimRight(base, "/") + path
}

// Get returns the body at url: from the cache when it holds a copy that is
// good enough (any copy when the Fetcher is not Online; for a Mutable
// resource, one younger than MaxAge and not past its nextUpdate when it
// is), else from the network when Online, storing what it got.
func (f *Fetcher) Get(ctx context.Context, url string, kind Kind) (*Response, error) {
	cached, cerr := f.read(url)
	if cached != nil && (!f.Online || kind == Immutable || f.fresh(cached)) {
		return cached, nil
	}
	if !f.Online {
		if cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("%s: %w (fetching it needs the network)", url, ErrNotCached)
	}
	r, err := f.fetch(ctx, url)
	if err != nil {
		return nil, err
	}
	if f.Dir != "" {
		if err := f.write(r); err != nil {
			return nil, fmt.Errorf("collateral cache: %v", err)
		}
	}
	return r, nil
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) maxSize() int64 {
	if f.MaxSize > 0 {
		return f.MaxSize
	}
	return DefaultMaxSize
}

// fresh reports whether a cached Mutable resource may be used by an Online
// Fetcher.
func (f *Fetcher) fresh(r *Response) bool {
	maxAge := f.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	now := f.now()
	if now.Sub(r.Fetched) >= maxAge || now.Before(r.Fetched) {
		return false
	}
	if next, ok := NextUpdate(r.Body); ok && !now.Before(next) {
		return false
	}
	return true
}

func (f *Fetcher) fetch(ctx context.Context, url string) (*Response, error) {
	client := f.Client
	if client == nil {
		timeout := f.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		client = &http.Client{Timeout: timeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		// Not the *url.Error itself: it repeats the URL.
		if u, ok := err.(interface{ Unwrap() error }); ok && u.Unwrap() != nil {
			err = u.Unwrap()
		}
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := ""
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			wait = fmt.Sprintf("; it asks to retry after %q", ra)
		}
		return nil, fmt.Errorf("GET %s: %w%s: the service limits how often one client may ask; try later, or leave out the network option to use the cache", url, ErrRateLimited, wait)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("GET %s: %w", url, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %w: HTTP status %q, want 200", url, ErrBadResponse, resp.Status)
	}
	max := f.maxSize()
	if resp.ContentLength > max {
		return nil, fmt.Errorf("GET %s: %w: body of %d bytes, more than the limit of %d", url, ErrBadResponse, resp.ContentLength, max)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w: body truncated after %d bytes: %v", url, ErrBadResponse, len(body), err)
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("GET %s: %w: body longer than the limit of %d bytes", url, ErrBadResponse, max)
	}
	if resp.ContentLength >= 0 && int64(len(body)) != resp.ContentLength {
		return nil, fmt.Errorf("GET %s: %w: body truncated: %d bytes, Content-Length %d", url, ErrBadResponse, len(body), resp.ContentLength)
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("GET %s: %w: empty body", url, ErrBadResponse)
	}
	r := &Response{URL: url, Body: body, Fetched: f.now().UTC()}
	for _, h := range f.headers() {
		if v := resp.Header.Values(h); len(v) > 0 {
			if r.Header == nil {
				r.Header = map[string][]string{}
			}
			r.Header[textproto.CanonicalMIMEHeaderKey(h)] = append([]string(nil), v...)
		}
	}
	return r, nil
}

func (f *Fetcher) headers() []string {
	if f.Headers != nil {
		return f.Headers
	}
	return []string{HeaderTCBInfoIssuerChain, HeaderQEIdentityIssuerChain, HeaderPCKCRLIssuerChain}
}

// KindOf classifies a KDS or PCS URL by its path: CRLs (…/crl, pckcrl,
// rootcacrl, Intel's root CA CRL), TCB info (…/tcb) and QE identity
// (…/qe/identity) are Mutable, everything else (certificates) Immutable.
func KindOf(url string) Kind {
	u := url
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	switch {
	case strings.HasSuffix(u, "/crl"), strings.HasSuffix(u, "/pckcrl"), strings.HasSuffix(u, "/rootcacrl"),
		strings.HasSuffix(u, "/tcb"), strings.HasSuffix(u, "/qe/identity"), url == IntelRootCRL,
		strings.HasSuffix(u, ".crl"):
		return Mutable
	}
	return Immutable
}
