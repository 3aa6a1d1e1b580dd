//go:build !measure_web

package web

import "io/fs"

// Embedded is nil: this measure was built without -tags measure_web, so
// the site is served from the directory scripts/build-web.sh wrote.
var Embedded fs.FS
