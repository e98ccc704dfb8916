package schema

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// TestRisksGolden loads every case under testdata/risks twice, as validate
// and as validate --strict, and compares the diagnostics with the case's
// want.golden: the same diagnostics, warnings first, errors under
// --strict. Run with -update to rewrite them after reviewing the change.
func TestRisksGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/risks/*")
	if err != nil || len(cases) < 5 {
		t.Fatalf("risk cases: %v, %v", cases, err)
	}
	sort.Strings(cases)
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, diags := Load(dir, LoadOptions{})
			_, strict := Load(dir, LoadOptions{Strict: true})
			if len(diags) != len(strict) {
				t.Fatalf("%d diagnostics, %d under --strict; want the same", len(diags), len(strict))
			}
			for i, d := range strict {
				r, isRisk := RiskOf(d)
				if isRisk && d.Severity != hcl.DiagError {
					t.Errorf("--strict: %q is not an error", d.Summary)
				}
				if isRisk && diags[i].Severity != hcl.DiagWarning {
					t.Errorf("%q is not a warning without --strict", d.Summary)
				}
				if isRisk && (r.Cluster == "" || r.Risk == "") {
					t.Errorf("%q: risk marker %+v lacks its cluster or risk", d.Summary, r)
				}
				if d.Subject == nil {
					t.Errorf("%q has no source range", d.Summary)
				}
			}
			got := "-- validate --\n" + renderDiags(t, dir, diags) + "-- validate --strict --\n" + renderDiags(t, dir, strict)
			golden := filepath.Join(dir, "want.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s:\n--- want\n%s--- got\n%s", golden, want, got)
			}
		})
	}
}

// TestRisksModel checks what the plan is made from: the findings, in
// RiskNames order, each with its accept_risk block when accepted.
func TestRisksModel(t *testing.T) {
	type finding struct {
		Risk   Risk
		Line   int // of the subject
		Reason string
	}
	tests := map[string]struct {
		want    []finding
		members string // peer-cert-auth-off detail names these
	}{
		"plain":            {want: []finding{{RiskDefaultQuota, 2, ""}, {RiskCompactionOff, 2, ""}, {RiskPlaintextClient, 2, ""}, {RiskPlaintextPeer, 2, ""}, {RiskAuthOff, 2, ""}}},
		"settings_written": {want: []finding{{RiskDefaultQuota, 8, ""}, {RiskCompactionOff, 12, ""}, {RiskPlaintextPeer, 14, ""}, {RiskAuthOff, 22, ""}}},
		"peer_cert_auth_off": {want: []finding{{RiskDefaultQuota, 8, ""}, {RiskPeerCertAuthOff, 36, ""}, {RiskAuthOff, 3, "only the peer side is tested here"}},
			members: "the member b accepts peer connections without a client certificate"},
		"accepted": {want: []finding{
			{RiskDefaultQuota, 4, "a test bed; its data fits in megabytes"},
			{RiskCompactionOff, 4, "the tests read old revisions"},
			{RiskPlaintextClient, 4, "clients reach it over a loopback bridge only"},
			{RiskPlaintextPeer, 4, "peers share a bridge on one machine"},
			{RiskAuthOff, 4, "the tests connect without credentials"},
		}},
		"hardened": {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := Load(filepath.Join("testdata/risks", name), LoadOptions{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			c := cfg.Clusters[0]
			var got []finding
			for _, f := range c.Risks {
				g := finding{Risk: f.Risk, Line: f.Subject.Start.Line}
				if f.Accepted != nil {
					g.Reason = f.Accepted.Reason
				}
				got = append(got, g)
				if f.Risk == RiskPeerCertAuthOff && !strings.Contains(f.Detail, tc.members) {
					t.Errorf("detail %q does not say %q", f.Detail, tc.members)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got)\n%s", diff)
			}
		})
	}
}

// TestRiskQuotesAreVerbatim checks each warning quotes its operator guide
// word for word. The guides live outside the repository
// (ETCDFORM_OPERATOR_GUIDES, default /work/shared/operator-guides); the
// test is skipped where they are absent.
func TestRiskQuotesAreVerbatim(t *testing.T) {
	dir := os.Getenv("ETCDFORM_OPERATOR_GUIDES")
	if dir == "" {
		dir = "/work/shared/operator-guides"
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("operator guides not found: %v", err)
	}
	for _, r := range riskTable {
		b, err := os.ReadFile(filepath.Join(dir, r.Guide))
		if err != nil {
			t.Fatalf("%s: %v", r.Risk, err)
		}
		if !strings.Contains(string(b), r.Quote) {
			t.Errorf("%s: %s does not contain %q", r.Risk, r.Guide, r.Quote)
		}
	}
}
