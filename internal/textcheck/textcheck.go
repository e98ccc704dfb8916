// Package textcheck finds the characters no value may carry (control
// characters, line breaks, bidirectional overrides, invalid UTF-8), for
// the schema, which refuses them in the configuration, and for the
// renderers of files etcdform writes on hosts, which refuse them again.
package textcheck

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ControlRune returns the first character of s that no value may contain: an
// invalid UTF-8 byte, a C0 or C1 control character (newline, carriage
// return, tab, NUL, escape, DEL, U+0085 ...), a line or paragraph separator
// (U+2028, U+2029) or a bidirectional override, which makes text display
// in another order than it runs. pos is its 1-based character position.
func ControlRune(s string) (r rune, pos int, found bool) {
	pos = 0
	for i, c := range s {
		pos++
		if c == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return c, pos, true
			}
		}
		if unicode.IsControl(c) || c == '\u2028' || c == '\u2029' || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069') {
			return c, pos, true
		}
	}
	return 0, 0, false
}

// RuneName names a character for a message: `a newline (U+000A)`.
func RuneName(r rune) string {
	names := map[rune]string{
		'\n': "a newline", '\r': "a carriage return", '\t': "a tab", 0: "a NUL character", 0x1b: "an escape character",
		0x7f: "a DEL character", 0x85: "a next-line character", '\u2028': "a line separator", '\u2029': "a paragraph separator",
		utf8.RuneError: "an invalid UTF-8 byte",
	}
	n, ok := names[r]
	switch {
	case ok:
	case r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069':
		n = "a bidirectional text control"
	default:
		n = "a control character"
	}
	return fmt.Sprintf("%s (U+%04X)", n, r)
}
