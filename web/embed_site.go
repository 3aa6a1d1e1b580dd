//go:build measure_web

package web

import (
	"embed"
	"io/fs"
)

//go:embed index.html app.js style.css wasm_exec.js measure.wasm
var site embed.FS

// Embedded is the built site, in a measure built with -tags measure_web
// after scripts/build-web.sh.
var Embedded fs.FS = site
