// Package lcs aligns two sequences by their longest common subsequence:
// the plan's step comparison and the views' file diffs share it.
package lcs

// Pair is one aligned position: indexes into a and b, with -1 for an
// element that only the other sequence has.
type Pair struct{ A, B int }

// Align returns the alignment of a and b in order: equal elements of the
// longest common subsequence as pairs, the others alone, elements of a
// before those of b where both differ. The table is len(a)*len(b): for
// the small inputs it serves (steps of a plan, lines of a config file).
func Align[T comparable](a, b []T) []Pair {
	n, m := len(a), len(b)
	l := make([][]int, n+1)
	for i := range l {
		l[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var out []Pair
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out = append(out, Pair{i, j})
			i++
			j++
		case j == m || (i < n && l[i+1][j] >= l[i][j+1]):
			out = append(out, Pair{i, -1})
			i++
		default:
			out = append(out, Pair{-1, j})
			j++
		}
	}
	return out
}
