package verify

import "testing"

func TestEscapeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"OVMF.fd", "OVMF.fd"},
		{`\EFI\BOOT`, `\EFI\BOOT`},
		{"café — ok", "café — ok"},
		{"a\nb\tc\r", `a\nb\tc\r`},
		{"\x1b[8m", `\x1b[8m`},
		{"\x7f\u0085", `\x7f\u0085`},
		{"\xff\xfe", `\xff\xfe`},
		{"\u202etxt.exe", `\u202etxt.exe`},
		{"line\u2028sep", `line\u2028sep`},
		{"\u00a0nbsp", `\u00a0nbsp`},
	}
	for _, tc := range tests {
		if got := escapeText(tc.in); got != tc.want {
			t.Errorf("escapeText(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
