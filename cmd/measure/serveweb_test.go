//go:build !measure_front

package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/web"
)

// site writes a site with the files of web.SiteFiles, the module standing
// in as a few bytes.
func site(t *testing.T, without string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range web.SiteFiles {
		if name != without {
			writeIn(t, dir, name, []byte("content of "+name))
		}
	}
	return dir
}

func TestServeWebRefuses(t *testing.T) {
	if web.Embedded != nil {
		t.Skip("built with -tags measure_web: the site is embedded")
	}
	noWasm := site(t, "measure.wasm")
	tests := []cliCase{
		{"nothing built in", []string{"serve-web"}, exitUsage, nil, "run scripts/build-web.sh, then measure serve-web --dir web"},
		{"no module", []string{"serve-web", "--dir", noWasm}, exitUsage, nil, "measure.wasm missing: the browser verifier's WebAssembly is not built: run scripts/build-web.sh"},
		{"no directory", []string{"serve-web", "--dir", filepath.Join(noWasm, "absent")}, exitUnreadable, nil, "no such file or directory"},
		{"a file", []string{"serve-web", "--dir", filepath.Join(noWasm, "index.html")}, exitUsage, nil, "is not a directory"},
		{"bad port", []string{"serve-web", "--dir", noWasm, "--port", "70000"}, exitUsage, nil, "--port 70000"},
	}
	runCases(t, tests)
}

// TestServeWeb serves a site on 127.0.0.1 and stops when its context
// ends.
func TestServeWeb(t *testing.T) {
	dir := site(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newServeWebCmd()
	cmd.SetArgs([]string{"--dir", dir})
	pr, pw := io.Pipe()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve-web printed no URL: %v", err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("serve-web printed %q, want a URL on 127.0.0.1", url)
	}
	tests := []struct {
		method, path string
		status       int
		contentType  string
		body         string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "content of index.html"},
		{"GET", "/measure.wasm", 200, "application/wasm", "content of measure.wasm"},
		{"GET", "/app.js", 200, "text/javascript; charset=utf-8", "content of app.js"},
		{"HEAD", "/style.css", 200, "text/css; charset=utf-8", ""},
		{"GET", "/../../etc/passwd", 404, "", ""},
		{"GET", "/absent.html", 404, "", ""},
		{"GET", "/secret.txt", 404, "", ""},
		{"POST", "/", 405, "", ""},
	}
	writeIn(t, dir, "secret.txt", []byte("not part of the site"))
	for _, tc := range tests {
		req, err := http.NewRequest(tc.method, url+strings.TrimPrefix(tc.path, "/"), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.contentType {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, got, tc.contentType)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != web.ContentSecurityPolicy {
			t.Errorf("%s %s: Content-Security-Policy %q, want %q", tc.method, tc.path, got, web.ContentSecurityPolicy)
		}
		if string(body) != tc.body {
			t.Errorf("%s %s: body %q, want %q", tc.method, tc.path, body, tc.body)
		}
	}
	// Only on loopback: the same port on another address of this machine
	// is not served.
	port := url[strings.LastIndex(url, ":")+1 : len(url)-1]
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			ip, _, _ := net.ParseCIDR(a.String())
			if ip == nil || ip.IsLoopback() || ip.To4() == nil {
				continue
			}
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), port), time.Second); err == nil {
				c.Close()
				t.Errorf("serve-web answers on %s, want 127.0.0.1 only", ip)
			}
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve-web ended with %v, want nil when its context ends", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve-web did not stop when its context ended")
	}
	if _, err := http.Get(url); err == nil {
		t.Error("serve-web still serves after it stopped")
	}
}
