// Package web is the browser verifier: a static page (index.html, app.js,
// style.css) and measure's verification library compiled to WebAssembly
// (web/wasm, built by scripts/build-web.sh into measure.wasm, with the Go
// toolchain's wasm_exec.js). This package serves such a site: Handler
// sends its files with headers that keep the page from reaching anything
// but its own files, and Embedded holds the site in a measure built with
// -tags measure_web. The page's logic is in web/verifier.
package web

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
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
	".png":  "image/png",
}

// Handler serves the site's files, GET and HEAD only, "/" as index.html,
// with the Content-Security-Policy above, no caching, and no directory
// listings.
func Handler(site fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		if !ok || !fs.ValidPath(name) {
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
