package collateral

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sevtrust "github.com/google/go-sev-guest/verify/trust"
	tdxtrust "github.com/google/go-tdx-guest/verify/trust"
)

// The adapters satisfy the two libraries' getter interfaces.
var (
	_ sevtrust.HTTPSGetter = SEVGetter{}
	_ tdxtrust.HTTPSGetter = TDXGetter{}
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "verify", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeService is a local stand-in for AMD's KDS and Intel's PCS, serving
// recorded responses by path and query; it counts requests.
type fakeService struct {
	*httptest.Server
	hits atomic.Int64
}

type fakeResponse struct {
	header map[string]string
	body   []byte
	status int
}

func newFake(t *testing.T, routes map[string]fakeResponse) *fakeService {
	f := &fakeService{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		resp, ok := routes[r.URL.RequestURI()]
		if !ok {
			http.NotFound(w, r)
			return
		}
		for k, v := range resp.header {
			w.Header().Set(k, v)
		}
		if resp.status != 0 {
			w.WriteHeader(resp.status)
		}
		w.Write(resp.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func TestFetchThenCache(t *testing.T) {
	vcek := readTestdata(t, "snp-vcek.der")
	tcbInfo := readTestdata(t, "tdx-tcbinfo.json")
	chain := readTestdata(t, "tdx-tcbinfo-issuer-chain.pem")
	const vcekPath = "/vcek/v1/Milan/3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68"
	const tcbPath = "/tdx/certification/v4/tcb?fmspc=50806f000000"
	srv := newFake(t, map[string]fakeResponse{
		vcekPath: {body: vcek},
		tcbPath:  {body: tcbInfo, header: map[string]string{HeaderTCBInfoIssuerChain: url.QueryEscape(string(chain))}},
	})
	dir := t.TempDir()
	now := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	online := &Fetcher{Dir: dir, Online: true, Now: func() time.Time { return now }}
	ctx := context.Background()

	r, err := online.Get(ctx, srv.URL+vcekPath, KindOf(srv.URL+vcekPath))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Body, vcek) || r.Cached || r.Source() != srv.URL+vcekPath {
		t.Errorf("Get(VCEK) = %d bytes, cached %v, source %q; want the VCEK from the network", len(r.Body), r.Cached, r.Source())
	}
	r, err = online.Get(ctx, srv.URL+tcbPath, Mutable)
	if err != nil {
		t.Fatal(err)
	}
	// go-tdx-guest looks the header up by its canonical key.
	got := r.Header["Tcb-Info-Issuer-Chain"]
	if len(got) != 1 {
		t.Fatalf("Get(TCB info) header = %v, want Tcb-Info-Issuer-Chain", r.Header)
	}
	if dec, _ := url.QueryUnescape(got[0]); dec != string(chain) {
		t.Errorf("Tcb-Info-Issuer-Chain does not decode to the chain served")
	}
	if hits := srv.hits.Load(); hits != 2 {
		t.Errorf("%d requests, want 2", hits)
	}

	// The server is gone; offline and online (fresh) reads come from the
	// cache.
	srv.Close()
	for _, f := range []*Fetcher{{Dir: dir}, online} {
		r, err := f.Get(ctx, srv.URL+vcekPath, Immutable)
		if err != nil {
			t.Fatalf("cached Get (online %v): %v", f.Online, err)
		}
		if !bytes.Equal(r.Body, vcek) || !r.Cached || !strings.HasSuffix(r.Source(), " (cache)") {
			t.Errorf("cached Get (online %v) = cached %v source %q", f.Online, r.Cached, r.Source())
		}
		_, h, body, err := func() (*Response, map[string][]string, []byte, error) {
			h, b, err := TDXGetter{Fetcher: f}.Get(srv.URL + tcbPath)
			return nil, h, b, err
		}()
		if err != nil || !bytes.Equal(body, tcbInfo) || len(h["Tcb-Info-Issuer-Chain"]) != 1 {
			t.Errorf("TDXGetter from the cache (online %v) = %d bytes, %v, %v", f.Online, len(body), h, err)
		}
	}
	b, err := SEVGetter{Fetcher: &Fetcher{Dir: dir}}.Get(srv.URL + vcekPath)
	if err != nil || !bytes.Equal(b, vcek) {
		t.Errorf("SEVGetter from the cache = %d bytes, %v", len(b), err)
	}
}

func TestOfflineMiss(t *testing.T) {
	srv := newFake(t, map[string]fakeResponse{"/x": {body: []byte("x")}})
	for _, f := range []*Fetcher{{}, {Dir: t.TempDir()}} {
		_, err := f.Get(context.Background(), srv.URL+"/x", Immutable)
		if !errors.Is(err, ErrNotCached) {
			t.Errorf("offline Get = %v, want ErrNotCached", err)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("offline fetcher made %d requests", n)
	}
}

// TestRefetch: an Online fetcher fetches a Mutable resource again when the
// cached copy is a day old or past its nextUpdate, never a certificate.
func TestRefetch(t *testing.T) {
	crl := readTestdata(t, "tdx-pckcrl.der") // nextUpdate 2023-07-08T07:27:52Z
	srv := newFake(t, map[string]fakeResponse{
		"/sgx/certification/v4/pckcrl?ca=platform&encoding=der": {body: crl},
		"/vcek/v1/Milan/cert_chain":                             {body: []byte("chain")},
	})
	crlURL := srv.URL + "/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
	certURL := srv.URL + "/vcek/v1/Milan/cert_chain"
	if KindOf(crlURL) != Mutable || KindOf(certURL) != Immutable {
		t.Fatalf("KindOf: CRL %v, cert_chain %v", KindOf(crlURL), KindOf(certURL))
	}
	dir := t.TempDir()
	start := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		at    time.Time
		url   string
		fetch bool
	}{
		{"CRL fetched", start, crlURL, true},
		{"CRL an hour old", start.Add(time.Hour), crlURL, false},
		{"CRL a day old", start.Add(24 * time.Hour), crlURL, true},
		{"CRL past nextUpdate", time.Date(2023, 7, 8, 8, 0, 0, 0, time.UTC), crlURL, true},
		{"certificate fetched", start, certURL, true},
		{"certificate a year old", start.Add(365 * 24 * time.Hour), certURL, false},
	}
	for _, tc := range tests {
		before := srv.hits.Load()
		f := &Fetcher{Dir: dir, Online: true, Now: func() time.Time { return tc.at }}
		r, err := f.Get(context.Background(), tc.url, KindOf(tc.url))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if fetched := srv.hits.Load() > before; fetched != tc.fetch || r.Cached == tc.fetch {
			t.Errorf("%s: fetched %v (cached %v), want fetched %v", tc.name, fetched, r.Cached, tc.fetch)
		}
	}
}

func TestBadResponses(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 2048)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/429":
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/500":
			w.WriteHeader(http.StatusInternalServerError)
		case "/big":
			w.Write(big)
		case "/empty":
		case "/truncated":
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte("only a little"))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tests := []struct {
		path    string
		want    error
		wantMsg string
		timeout time.Duration
	}{
		{"/429", ErrRateLimited, `retry after "30"`, 0},
		{"/404", ErrNotFound, "404", 0},
		{"/500", ErrBadResponse, "500", 0},
		{"/big", ErrBadResponse, "limit of 1024", 0},
		{"/empty", ErrBadResponse, "empty body", 0},
		{"/truncated", ErrBadResponse, "truncated", 0},
		{"/slow", nil, "Client.Timeout", 200 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			dir := t.TempDir()
			f := &Fetcher{Dir: dir, Online: true, MaxSize: 1024, Timeout: tc.timeout}
			start := time.Now()
			_, err := f.Get(context.Background(), srv.URL+tc.path, Immutable)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Get(%s) = %v, want %v containing %q", tc.path, err, tc.want, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), srv.URL+tc.path) {
				t.Errorf("error %q is not one line naming the URL", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Get(%s) took %v", tc.path, d)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("a failed Get left %d cache files", len(ents))
			}
		})
	}
}

func TestCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := (&Fetcher{Online: true}).Get(ctx, srv.URL+"/x", Immutable)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get after cancel = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled Get took %v", d)
	}
}

// TestCorruptCache: an entry that does not parse, or that is another
// URL's, is an error offline and is fetched again online.
func TestCorruptCache(t *testing.T) {
	srv := newFake(t, map[string]fakeResponse{"/a": {body: []byte("A")}, "/b": {body: []byte("B")}})
	dir := t.TempDir()
	f := &Fetcher{Dir: dir, Online: true}
	ctx := context.Background()
	for _, p := range []string{"/a", "/b"} {
		if _, err := f.Get(ctx, srv.URL+p, Immutable); err != nil {
			t.Fatal(err)
		}
	}
	// Put /b's entry where /a's belongs, and junk where /b's was.
	b, err := os.ReadFile(f.path(srv.URL + "/b"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(f.path(srv.URL+"/a"), b, 0o644)
	os.WriteFile(f.path(srv.URL+"/b"), []byte("{not json"), 0o644)
	off := &Fetcher{Dir: dir}
	for p, want := range map[string]string{"/a": "entry is for", "/b": "does not parse"} {
		if _, err := off.Get(ctx, srv.URL+p, Immutable); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("offline Get(%s) = %v, want %q", p, err, want)
		}
		r, err := f.Get(ctx, srv.URL+p, Immutable)
		if err != nil || r.Cached || string(r.Body) != strings.ToUpper(p[1:]) {
			t.Errorf("online Get(%s) = %v, %v; want it fetched again", p, r, err)
		}
	}
}

func TestNextUpdate(t *testing.T) {
	tests := []struct {
		file string
		want time.Time
	}{
		// Dates as the files state them (openssl crl -text; the JSON).
		{"tdx-pckcrl.der", time.Date(2023, 7, 8, 7, 27, 52, 0, time.UTC)},
		{"tdx-rootcrl.der", time.Date(2024, 4, 2, 10, 22, 51, 0, time.UTC)},
		{"tdx-tcbinfo.json", time.Date(2023, 7, 18, 8, 42, 58, 0, time.UTC)},
		{"tdx-qeidentity.json", time.Date(2023, 7, 8, 7, 24, 59, 0, time.UTC)},
	}
	for _, tc := range tests {
		got, ok := NextUpdate(readTestdata(t, tc.file))
		if !ok || !got.Equal(tc.want) {
			t.Errorf("NextUpdate(%s) = %v, %v; want %v", tc.file, got, ok, tc.want)
		}
	}
	if _, ok := NextUpdate(readTestdata(t, "snp-vcek.der")); ok {
		t.Errorf("NextUpdate(a certificate) found a date")
	}
}

func TestKindOf(t *testing.T) {
	mutable := []string{
		"https://kdsintf.amd.com/vcek/v1/Milan/crl", "https://kdsintf.amd.com/vlek/v1/Genoa/crl",
		"https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
		"https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000",
		"https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity",
		"https://pccs.example/sgx/certification/v4/rootcacrl", IntelRootCRL,
	}
	immutable := []string{
		"https://kdsintf.amd.com/vcek/v1/Milan/cert_chain",
		"https://kdsintf.amd.com/vcek/v1/Milan/3ac3?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68",
	}
	for _, u := range mutable {
		if KindOf(u) != Mutable {
			t.Errorf("KindOf(%s) = Immutable", u)
		}
	}
	for _, u := range immutable {
		if KindOf(u) != Immutable {
			t.Errorf("KindOf(%s) = Mutable", u)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add([]byte(`{"version":1,"url":"u","fetched":"2023-07-01T00:00:00Z","body":"QQ=="}`))
	f.Add([]byte(`{"version":1,"url":"u","header":{"A":["b"]},"body":""}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseEntry(b, "u")
		if err == nil && (r.URL != "u" || len(r.Body) == 0 || !r.Cached) {
			t.Errorf("parseEntry accepted %q as %+v", b, r)
		}
		NextUpdate(b)
	})
}
