package toolchain

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

var (
	suiteRE   = regexp.MustCompile(`^[a-z][a-z0-9.-]*$`)
	variantRE = regexp.MustCompile(`^[a-z][a-z-]*$`)
	packageRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]+(:[a-z0-9]+)?$`)
)

// Validate checks that every field of s that reaches mmdebstrap's command
// line is what it says and nothing more: a suite name, an http(s) URL, a
// variant name, package names. A recipe is untrusted input, and mmdebstrap
// (run as root, with no user namespace) takes options anywhere on its
// command line: a mirror of "--setup-hook=..." would run as host root, and
// a mirror line with "[trusted=yes]" would install unsigned packages.
func (s *Spec) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("toolchain "+format, a...)) }
	if s.Image != "" {
		if !strings.Contains(s.Image, "@sha256:") || strings.ContainsAny(s.Image, " \t\n") || strings.HasPrefix(s.Image, "-") {
			bad("image %q: want a reference by digest (registry/repository@sha256:DIGEST)", s.Image)
		}
		return errors.Join(errs...)
	}
	if !suiteRE.MatchString(s.Suite) {
		bad("suite %q: want a Debian suite name such as trixie", s.Suite)
	}
	u, err := url.Parse(s.Mirror)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s.Mirror, " \t\n[]\"'`$;|&<>\\") {
		bad("mirror %q: want a plain http(s) URL of a Debian archive", s.Mirror)
	}
	if s.Variant != "" && !variantRE.MatchString(s.Variant) {
		bad("variant %q: want an mmdebstrap variant name such as buildd", s.Variant)
	}
	for _, p := range s.Packages {
		if !packageRE.MatchString(p) {
			bad("package %q: want a Debian package name", p)
		}
	}
	return errors.Join(errs...)
}
