package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestApplyRefusesTamperedPlan (issue 13 #2): an unsigned plan file whose
// step config was edited, and its checksum recomputed, is refused before any
// step runs, naming the step, and the host's config file is left alone.
func TestApplyRefusesTamperedPlan(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	pf := planFile(t, config(t, st, withStorage("3GiB")))

	var member string
	var step int
	reseal(t, pf, func(canon []byte) []byte {
		var p struct {
			Steps []struct {
				Action string `json:"action"`
				Member string `json:"member"`
				Config string `json:"config"`
			} `json:"steps"`
		}
		if err := json.Unmarshal(canon, &p); err != nil {
			t.Fatal(err)
		}
		for i, s := range p.Steps {
			if s.Action != "write-config" {
				continue
			}
			member, step = s.Member, i+1
			evil := regexp.MustCompile(`(?m)^data-dir: .*$`).ReplaceAllString(s.Config, "data-dir: /var/lib/etcd-moved") + "enable-pprof: true\n"
			if evil == s.Config+"enable-pprof: true\n" {
				t.Fatalf("no data-dir in the config of %s:\n%s", s.Member, s.Config)
			}
			return bytes.Replace(canon, jsonString(t, s.Config), jsonString(t, evil), 1)
		}
		t.Fatal("the plan has no write-config step")
		return nil
	})
	h, err := st.Host(member)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(h.Root, "etc-etcd", "etcd.conf.yml")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The tampered file reads as a plan: show accepts it.
	if _, _, code := cli(t, "show", pf); code != 0 {
		t.Fatalf("show of the re-sealed plan: exit %d, want 0 (the checksum helper is wrong)", code)
	}
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	stdout, stderr, code := cli(t, applyArgs(t, "--audit-log", audit, pf)...)
	if code != 1 {
		t.Fatalf("apply of a tampered plan: exit %d, want 1", code)
	}
	if want := fmt.Sprintf("step %d (write-config %s)", step, member); !strings.Contains(stderr, want) || !strings.Contains(stderr, "enable-pprof") {
		t.Errorf("stderr does not name %q and the added key enable-pprof:\n%s", want, stderr)
	}
	if strings.Contains(stdout, ": done") {
		t.Errorf("a step ran:\n%s", stdout)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("%s's config file changed:\n%s", member, after)
	}
	for _, e := range readAuditLoose(audit) {
		if e.Kind == "step" {
			t.Errorf("audit records a step: %+v", e)
		}
	}
}

// reseal edits the plan payload of the plan file at path, as its canonical
// (compact) JSON, and recomputes the checksum the way plan/planfile does:
// sha256 over the payload's canonical bytes. It is what anyone can do to an
// unsigned plan.
func reseal(t *testing.T, path string, edit func(canon []byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		FormatVersion int             `json:"format_version"`
		Checksum      string          `json:"checksum"`
		Plan          json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	var canon bytes.Buffer
	if err := json.Compact(&canon, env.Plan); err != nil {
		t.Fatal(err)
	}
	edited := edit(canon.Bytes())
	sum := sha256.Sum256(edited)
	env.Checksum = "sha256:" + hex.EncodeToString(sum[:])
	env.Plan = edited
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func jsonString(t *testing.T, s string) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
