//go:build linux

package main

import (
	"bytes"
	"testing"
)

func TestSay(t *testing.T) {
	var b bytes.Buffer
	say(&b)
	if got, want := b.String(), Marker+"\n"; got != want {
		t.Errorf("say wrote %q, want %q", got, want)
	}
}
