//go:build !measure_front

package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
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

// TestServeWebRefusesLinkedSite: a site file that is a symbolic link, here
// index.html to a page outside the site, is refused at the start.
func TestServeWebRefusesLinkedSite(t *testing.T) {
	dir := site(t, "index.html")
	outside := writeIn(t, t.TempDir(), "secret.html", []byte("not part of the site"))
	if err := os.Symlink(outside, filepath.Join(dir, "index.html")); err != nil {
		t.Fatal(err)
	}
	// Were it served, serve-web would run until the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := newServeWebCmd()
	cmd.SetArgs([]string{"--dir", dir})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.ExecuteContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "reached through a symbolic link") || exitCode(err, io.Discard) != exitUsage {
		t.Errorf("serve-web --dir with index.html a link = %v (exit %d), want exit %d for the link", err, exitCode(err, io.Discard), exitUsage)
	}
}

// serveWeb starts serve-web on dir and returns its URL and a channel that
// gets its error once ctx ends.
func serveWeb(t *testing.T, ctx context.Context, dir string) (string, <-chan error) {
	t.Helper()
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
	return url, done
}

// TestServeWeb serves a site on 127.0.0.1 and stops when its context
// ends.
func TestServeWeb(t *testing.T) {
	dir := site(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done := serveWeb(t, ctx, dir)
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
		{"GET", "/secret.html", 404, "", ""},
		{"POST", "/", 405, "", ""},
	}
	writeIn(t, dir, "secret.txt", []byte("not part of the site"))
	writeIn(t, dir, "secret.html", []byte("not part of the site"))
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

// TestServeWebLinksAndHosts: serve-web follows no symbolic link in --dir,
// to a file outside it or to one of its own, even one made after it
// started, and answers only requests addressed to the loopback address by
// name and with its port (a page of another site whose name resolves to
// 127.0.0.1, DNS rebinding, gets nothing).
func TestServeWebLinksAndHosts(t *testing.T) {
	dir := site(t, "")
	outside := writeIn(t, t.TempDir(), "secret.html", []byte("a secret outside the site"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done := serveWeb(t, ctx, dir)
	// After it started: style.css, a site file, becomes a link to a file
	// outside; a link to a file inside it; a directory linked.
	if err := os.Remove(filepath.Join(dir, "style.css")); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct{ target, link string }{
		{outside, "style.css"},
		{outside, "link.html"},
		{filepath.Join(dir, "index.html"), "again.html"},
		{filepath.Dir(outside), "linked"},
	} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.link)); err != nil {
			t.Fatal(err)
		}
	}
	port := url[strings.LastIndex(url, ":")+1 : len(url)-1]
	tests := []struct {
		name, host, path string
		status           int
	}{
		{"site file", "127.0.0.1:" + port, "/app.js", 200},
		{"localhost", "localhost:" + port, "/", 200},
		{"LOCALHOST", "LOCALHOST:" + port, "/", 200},
		{"IPv6 loopback", "[::1]:" + port, "/", 200},
		{"site file swapped for a link", "127.0.0.1:" + port, "/style.css", 404},
		{"link outside", "127.0.0.1:" + port, "/link.html", 404},
		{"link inside", "127.0.0.1:" + port, "/again.html", 404},
		{"through a linked directory", "127.0.0.1:" + port, "/linked/secret.html", 404},
		{"rebound name", "attacker.example:" + port, "/", 421},
		{"rebound name, no port", "attacker.example", "/", 421},
		{"loopback, no port", "127.0.0.1", "/", 421},
		{"loopback, other port", "127.0.0.1:1", "/", 421},
		{"localhost as a subdomain", "localhost.attacker.example:" + port, "/", 421},
	}
	for _, tc := range tests {
		req, err := http.NewRequest("GET", url+strings.TrimPrefix(tc.path, "/"), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: GET %s with Host %q: status %d, want %d", tc.name, tc.path, tc.host, resp.StatusCode, tc.status)
		}
		if strings.Contains(string(body), "secret") && !strings.Contains(string(body), "not this server's") {
			t.Errorf("%s: GET %s served %q", tc.name, tc.path, body)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve-web ended with %v", err)
	}
}
