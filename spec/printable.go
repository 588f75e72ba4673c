package spec

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s as it may be printed to a terminal: without control
// characters (C0 and C1, so no escape sequences; newlines and tabs are kept)
// and without the Unicode format characters that reorder or hide text (bidi
// overrides and isolates, zero-width marks), with each invalid UTF-8 byte
// replaced by U+FFFD. A scenario's name and description come from a file the
// user may not have written; print them through Printable.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !printableRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteRune(utf8.RuneError)
		case printableRune(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func printableRune(r rune) bool {
	if r == '\n' || r == '\t' {
		return true
	}
	return !unicode.IsControl(r) && !unicode.Is(unicode.Cf, r)
}
