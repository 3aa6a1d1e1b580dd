package collateral

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/measure-cc/measure/internal/atomicfile"
)

// entryVersion is the cache entry format; an entry of another version is
// a miss.
const entryVersion = 1

// entry is one cached response, stored as JSON in a file named by the
// SHA-256 of its URL. Body is base64 (encoding/json's []byte).
type entry struct {
	Version int                 `json:"version"`
	URL     string              `json:"url"`
	Fetched time.Time           `json:"fetched"`
	Header  map[string][]string `json:"header,omitempty"`
	Body    []byte              `json:"body"`
}

// path is the cache file of url.
func (f *Fetcher) path(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(f.Dir, hex.EncodeToString(sum[:])+".json")
}

// maxEntrySize bounds a cache file: a base64 body of MaxSize and its
// headers, with room to spare.
func (f *Fetcher) maxEntrySize() int64 { return 2*f.maxSize() + 1<<20 }

// read returns the cached response for url: nil and nil when there is
// none, nil and an error when the entry cannot be used.
func (f *Fetcher) read(url string) (*Response, error) {
	if f.Dir == "" {
		return nil, nil
	}
	p := f.path(url)
	fh, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("collateral cache: %v", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, f.maxEntrySize()+1))
	if err != nil {
		return nil, fmt.Errorf("collateral cache %q: %v", p, err)
	}
	if int64(len(b)) > f.maxEntrySize() {
		return nil, fmt.Errorf("collateral cache %q: larger than %d bytes", p, f.maxEntrySize())
	}
	r, err := parseEntry(b, url)
	if err != nil {
		return nil, fmt.Errorf("collateral cache %q: %v", p, err)
	}
	return r, nil
}

// parseEntry decodes a cache file and checks that it is for url.
func parseEntry(b []byte, url string) (*Response, error) {
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("entry does not parse: %v", err)
	}
	if e.Version != entryVersion {
		return nil, fmt.Errorf("entry version %d, want %d", e.Version, entryVersion)
	}
	if e.URL != url {
		return nil, fmt.Errorf("entry is for %q, want %q", e.URL, url)
	}
	if len(e.Body) == 0 {
		return nil, errors.New("entry has an empty body")
	}
	return &Response{URL: e.URL, Header: e.Header, Body: e.Body, Fetched: e.Fetched, Cached: true}, nil
}

// write stores r atomically: a reader sees the old entry or the new one,
// never part of one.
func (f *Fetcher) write(r *Response) error {
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(entry{Version: entryVersion, URL: r.URL, Fetched: r.Fetched, Header: r.Header, Body: r.Body})
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(f.path(r.URL), 0o644, b)
}

// NextUpdate returns the nextUpdate of a CRL (DER or PEM), or of a TCB info
// or QE identity (Intel PCS JSON), when b is one. It verifies nothing.
func NextUpdate(b []byte) (time.Time, bool) {
	der := b
	if blk, _ := pem.Decode(b); blk != nil {
		der = blk.Bytes
	}
	if crl, err := x509.ParseRevocationList(der); err == nil {
		return crl.NextUpdate, !crl.NextUpdate.IsZero()
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return time.Time{}, false
	}
	var doc struct {
		TCBInfo *struct {
			NextUpdate time.Time `json:"nextUpdate"`
		} `json:"tcbInfo"`
		EnclaveIdentity *struct {
			NextUpdate time.Time `json:"nextUpdate"`
		} `json:"enclaveIdentity"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return time.Time{}, false
	}
	switch {
	case doc.TCBInfo != nil && !doc.TCBInfo.NextUpdate.IsZero():
		return doc.TCBInfo.NextUpdate, true
	case doc.EnclaveIdentity != nil && !doc.EnclaveIdentity.NextUpdate.IsZero():
		return doc.EnclaveIdentity.NextUpdate, true
	}
	return time.Time{}, false
}
