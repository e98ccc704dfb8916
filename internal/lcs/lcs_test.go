package lcs

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAlign(t *testing.T) {
	tests := map[string]struct {
		a, b string
		want []Pair
	}{
		"equal":    {a: "ab", b: "ab", want: []Pair{{0, 0}, {1, 1}}},
		"empty":    {},
		"inserted": {a: "ac", b: "abc", want: []Pair{{0, 0}, {-1, 1}, {1, 2}}},
		"removed":  {a: "abc", b: "ac", want: []Pair{{0, 0}, {1, -1}, {2, 1}}},
		"replaced": {a: "axc", b: "ayc", want: []Pair{{0, 0}, {1, -1}, {-1, 1}, {2, 2}}},
		"swapped":  {a: "ab", b: "ba", want: []Pair{{0, -1}, {1, 0}, {-1, 1}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Align([]byte(tc.a), []byte(tc.b))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
