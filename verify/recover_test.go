package verify

import (
	"errors"
	"testing"
)

func TestRecoverPanic(t *testing.T) {
	var b []byte
	err := recoverPanic("dep", func() error { _ = b[:1]; return nil })
	if want := "dep panicked: runtime error: slice bounds out of range [:1] with capacity 0"; err == nil || err.Error() != want {
		t.Errorf("recoverPanic(panicking) = %v, want %s", err, want)
	}
	e := errors.New("plain")
	if err := recoverPanic("dep", func() error { return e }); err != e {
		t.Errorf("recoverPanic(erring) = %v, want %v", err, e)
	}
}
