package arguments

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseValidate(t *testing.T) {
	tests := map[string]struct {
		args    []string
		want    *Validate
		wantErr bool
	}{
		"defaults":   {args: nil, want: &Validate{Path: "."}},
		"all":        {args: []string{"--json", "--var", "a=1", "-var-file", "x.vars", "--var", "b=2", "dir"}, want: &Validate{JSON: true, Vars: []string{"a=1", "b=2"}, VarFiles: []string{"x.vars"}, Path: "dir"}},
		"two paths":  {args: []string{"a", "b"}, wantErr: true},
		"flag after": {args: []string{"dir", "--json", "--var", "a=1"}, want: &Validate{JSON: true, Vars: []string{"a=1"}, Path: "dir"}},
		"dash dash":  {args: []string{"--", "--json"}, want: &Validate{Path: "--json"}},
		"bad flag":   {args: []string{"--nope"}, wantErr: true},
		"var no val": {args: []string{"--var"}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _, err := ParseValidate(tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseFmt(t *testing.T) {
	tests := map[string]struct {
		args []string
		want *Fmt
	}{
		"defaults": {args: nil, want: &Fmt{Paths: []string{"."}}},
		"check":    {args: []string{"--check", "examples", "x.hcl"}, want: &Fmt{Check: true, Paths: []string{"examples", "x.hcl"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _, err := ParseFmt(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}
