// Package web is the browser verifier: a static page (index.html, app.js,
// style.css) and measure's verification library compiled to WebAssembly
// (web/wasm, built by scripts/build-web.sh into measure.wasm, with the Go
// toolchain's wasm_exec.js). This package serves such a site: Handler
// sends its files, and nothing else, with headers that keep the page from
// reaching anything but its own files, to a browser that asked for this
// machine's loopback address by name; DirFS reads a built site's directory
// without following symbolic links; Embedded holds the site in a measure
// built with -tags measure_web. The page's logic is in web/verifier.
package web

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
)

// SiteFiles are the files of a built site, all of which must be there.
var SiteFiles = []string{"index.html", "app.js", "style.css", "wasm_exec.js", "measure.wasm"}

// ErrNotBuilt reports a site without its WebAssembly module or support
// file: scripts/build-web.sh builds them.
var ErrNotBuilt = errors.New("the browser verifier's WebAssembly is not built: run scripts/build-web.sh")

// CheckSite returns an error naming the first of SiteFiles that site lacks.
func CheckSite(site fs.FS) error {
	for _, name := range SiteFiles {
		st, err := fs.Stat(site, name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && (name == "measure.wasm" || name == "wasm_exec.js") {
				return fmt.Errorf("%s missing: %w", name, ErrNotBuilt)
			}
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", name)
		}
	}
	return nil
}

// ContentSecurityPolicy allows the page its own scripts, styles and
// WebAssembly module and nothing else: no request to another origin, no
// form submission, no frame. index.html carries the same policy.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".wasm": "application/wasm",
}

// Handler serves the site's files (SiteFiles and nothing else), GET and
// HEAD only, "/" as index.html, with the Content-Security-Policy above, no
// caching, and no directory listings. It answers only a request whose Host
// is 127.0.0.1, localhost or [::1] with the port the request came in on
// (421 Misdirected Request otherwise): a page of another site cannot
// reach it through a name of its own that resolves to 127.0.0.1 (DNS
// rebinding).
func Handler(site fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r) {
			http.Error(w, fmt.Sprintf("host %q is not this server's: it answers only to 127.0.0.1, localhost or [::1] and its port", r.Host), http.StatusMisdirectedRequest)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Clean(r.URL.Path)
		if name == "/" {
			name = "/index.html"
		}
		name = name[1:]
		ct, ok := contentTypes[path.Ext(name)]
		if !ok || !slices.Contains(SiteFiles, name) {
			http.NotFound(w, r)
			return
		}
		b, err := fs.ReadFile(site, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ct)
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if r.Method == http.MethodHead {
			return
		}
		w.Write(b)
	})
}

// loopbackHost reports whether r's Host names this machine's loopback
// address, 127.0.0.1, localhost or [::1], with the port of the address the
// request came in on.
func loopbackHost(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	_, port, err := net.SplitHostPort(local.String())
	if err != nil {
		return false
	}
	host, hport, err := net.SplitHostPort(r.Host)
	if err != nil || hport != port {
		return false
	}
	switch strings.ToLower(host) {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

// ErrLink is why DirFS does not open a file: it is a symbolic link or
// reached through one, or not a regular file.
var ErrLink = errors.New("reached through a symbolic link, or not a regular file")

// DirFS returns the files of directory dir, as os.DirFS does, except that
// it opens only regular files reached without a symbolic link: a link in
// dir, whether to a file inside it or outside, and a file in a directory
// reached through one, are not opened (ErrLink), nor is anything outside
// dir. A file swapped for a link between the check and the opening is
// not opened either.
func DirFS(dir string) (fs.FS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return linkFreeFS{root}, nil
}

type linkFreeFS struct{ root *os.Root }

func (f linkFreeFS) Open(name string) (fs.File, error) {
	fail := func(err error) (fs.File, error) { return nil, &fs.PathError{Op: "open", Path: name, Err: err} }
	if !fs.ValidPath(name) {
		return fail(fs.ErrInvalid)
	}
	// Each directory on the way, then the file, without following a link.
	parts := strings.Split(name, "/")
	for i := range parts {
		st, err := f.root.Lstat(strings.Join(parts[:i+1], "/"))
		if err != nil {
			return fail(err)
		}
		last := i == len(parts)-1
		if st.Mode()&fs.ModeSymlink != 0 || (!last && !st.IsDir()) || (last && !st.Mode().IsRegular() && !st.IsDir()) {
			return fail(ErrLink)
		}
		if !last {
			continue
		}
		file, err := f.root.Open(name)
		if err != nil {
			return fail(err)
		}
		opened, err := file.Stat()
		if err != nil || !os.SameFile(st, opened) {
			file.Close()
			return fail(ErrLink)
		}
		return file, nil
	}
	return fail(fs.ErrInvalid)
}
