package views

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/plan"
)

func TestUnifiedDiff(t *testing.T) {
	ten := strings.Split("1 2 3 4 5 6 7 8 9 10", " ")
	with := func(i int, s string) []string {
		out := append([]string{}, ten...)
		out[i] = s
		return out
	}
	tests := map[string]struct {
		a, b []string
		want []string
	}{
		"equal":  {a: ten, b: ten},
		"middle": {a: ten, b: with(4, "five"), want: []string{"@@ -2,7 +2,7 @@", " 2", " 3", " 4", "-5", "+five", " 6", " 7", " 8"}},
		"first":  {a: ten, b: with(0, "one"), want: []string{"@@ -1,4 +1,4 @@", "-1", "+one", " 2", " 3", " 4"}},
		"last":   {a: ten, b: with(9, "ten"), want: []string{"@@ -7,4 +7,4 @@", " 7", " 8", " 9", "-10", "+ten"}},
		"far apart": {a: ten, b: append([]string{"one"}, with(9, "ten")[1:]...), want: []string{
			"@@ -1,4 +1,4 @@", "-1", "+one", " 2", " 3", " 4",
			"@@ -7,4 +7,4 @@", " 7", " 8", " 9", "-10", "+ten"}},
		"close together": {a: ten, b: append([]string{"one"}, with(6, "seven")[1:]...), want: []string{
			"@@ -1,10 +1,10 @@", "-1", "+one", " 2", " 3", " 4", " 5", " 6", "-7", "+seven", " 8", " 9", " 10"}},
		"appended":   {a: ten[:2], b: ten[:3], want: []string{"@@ -1,2 +1,3 @@", " 1", " 2", "+3"}},
		"removed":    {a: ten[:3], b: ten[:2], want: []string{"@@ -1,3 +1,2 @@", " 1", " 2", "-3"}},
		"from empty": {a: nil, b: ten[:2], want: []string{"@@ -0,0 +1,2 @@", "+1", "+2"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, unifiedDiff(tc.a, tc.b, 3)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Uploads are shown by path, source and hash: a credentials file's
// content is never in the plan model, and no view reads it.
func TestStepFilesUploadsByHash(t *testing.T) {
	s := plan.Step{Action: plan.InstallBackupJob, Uploads: []plan.Upload{{Role: "backup-credentials", Path: "/etc/etcdform/backup.env", Source: "/nonexistent/s3.env", SHA256: "5ec7", Mode: 0o600}}}
	writes, other := stepFiles(s)
	if diff := cmp.Diff([]string{"upload /etc/etcdform/backup.env from /nonexistent/s3.env (sha256 5ec7, mode 0600)"}, other); diff != "" || writes != nil {
		t.Errorf("writes %v, other (-want +got):\n%s", writes, diff)
	}
}

// A file on a host may hold terminal escapes; the views show them as text.
func TestStepFilesShowControlCharacters(t *testing.T) {
	s := plan.Step{Action: plan.WriteConfig, Config: []byte("name: a\n"), ConfigObserved: []byte("name: a\x1b[2J\r\n")}
	writes, _ := stepFiles(s)
	want := []string{"@@ -1,1 +1,1 @@", `-name: a\x1b[2J\x0d`, "+name: a"}
	if len(writes) != 1 {
		t.Fatalf("writes %v", writes)
	}
	if diff := cmp.Diff(want, writes[0].Lines); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
