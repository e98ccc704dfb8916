package schema

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// evalLocals evaluates the locals blocks of src as Load does and returns
// the loader, for its diagnostics and counters.
func evalLocals(t *testing.T, src string) (*loader, map[string]cty.Value) {
	t.Helper()
	f, diags := ParseConfig([]byte(src), "main.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	content, diags := f.Body.Content(topSchema)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	l := newLoader(&Config{}, LoadOptions{})
	l.ctx = &hcl.EvalContext{Functions: functions(".", func(string) string { return "" }),
		Variables: map[string]cty.Value{"var": cty.EmptyObjectVal}}
	return l, l.locals(content.Blocks)
}

// TestLocalsLinear evaluates chains of locals declared in either order:
// every local gets its value, and the `local` objects they are evaluated
// with hold only the locals each refers to. Rebuilding one object of every
// local evaluated so far, as before, copied n²/2 values: 50,000 locals took
// minutes.
func TestLocalsLinear(t *testing.T) {
	const n = 2000
	for name, dep := range map[string]func(i int) int{
		"each on the one before": func(i int) int { return i - 1 },
		"each on the one after":  func(i int) int { return i + 1 },
	} {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("locals {\n")
			for i := 0; i < n; i++ {
				if d := dep(i); d >= 0 && d < n {
					fmt.Fprintf(&b, "  l%d = local.l%d + 1\n", i, d)
				} else {
					fmt.Fprintf(&b, "  l%d = 0\n", i)
				}
			}
			b.WriteString("}\n")
			l, got := evalLocals(t, b.String())
			if len(l.diags) > 0 {
				t.Fatal(l.diags.Error())
			}
			for i := 0; i < n; i++ {
				want := i // the distance from the end of the chain
				if dep(0) > 0 {
					want = n - 1 - i
				}
				if v := got[fmt.Sprintf("l%d", i)]; !v.RawEquals(cty.NumberIntVal(int64(want))) {
					t.Fatalf("l%d = %#v, want %d", i, v, want)
				}
			}
			if l.localsCopied != n-1 {
				t.Errorf("%d values copied into local objects, want one per reference (%d)", l.localsCopied, n-1)
			}
		})
	}
}

// TestLocalsCycles: only the locals on a cycle are reported, once each,
// also for a cycle too long to list, without recursion.
func TestLocalsCycles(t *testing.T) {
	t.Run("small", func(t *testing.T) {
		l, got := evalLocals(t, "locals {\n  a = local.b\n  b = local.a\n  c = local.c\n  d = local.a\n  e = 1\n  f = local[\"e\"] + 1\n}\n")
		var msgs []string
		for _, d := range l.diags {
			msgs = append(msgs, fmt.Sprintf("%d:%d: %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Detail))
		}
		want := []string{
			`2:3: The local value "a" depends on itself through a, b.`,
			`3:3: The local value "b" depends on itself through a, b.`,
			`4:3: The local value "c" depends on itself through c.`,
		}
		if diff := cmp.Diff(want, msgs); diff != "" {
			t.Errorf("diagnostics (-want +got):\n%s", diff)
		}
		if !got["f"].RawEquals(cty.NumberIntVal(2)) || got["d"].IsKnown() {
			t.Errorf("f = %#v, d = %#v; want 2 and unknown", got["f"], got["d"])
		}
	})
	t.Run("long", func(t *testing.T) {
		const n = 100000
		var b strings.Builder
		b.WriteString("locals {\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "  l%06d = local.l%06d\n", i, (i+1)%n)
		}
		b.WriteString("}\n")
		l, _ := evalLocals(t, b.String())
		if len(l.diags) != n {
			t.Fatalf("%d diagnostics, want %d", len(l.diags), n)
		}
		if d := l.diags[0].Detail; !strings.HasSuffix(d, "l000009, and 99990 more.") {
			t.Errorf("detail %q does not list ten names and the count of the rest", d)
		}
	})
}
