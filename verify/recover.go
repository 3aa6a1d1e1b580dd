package verify

import "fmt"

// recoverPanic runs f, which calls dep's parser on untrusted bytes, and
// returns a panic in it as an error. The checks made before such calls
// catch the inputs known to crash a parser; this is the backstop for the
// ones not yet known. Callers wrap the error with ErrMalformed and the
// input's name.
func recoverPanic(dep string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s panicked: %v", dep, r)
		}
	}()
	return f()
}
