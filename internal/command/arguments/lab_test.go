package arguments

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLab(t *testing.T) {
	for name, tc := range map[string]struct {
		args    []string
		want    *Lab
		wantErr bool
	}{
		"up defaults":     {args: []string{"up"}, want: &Lab{Sub: "up", Dir: ".lab", Members: 3, Init: "runit"}},
		"up with tls":     {args: []string{"up", "--tls", "--members", "5", "--dir", "/tmp/x"}, want: &Lab{Sub: "up", Dir: "/tmp/x", Members: 5, TLS: true, Init: "runit"}},
		"up with systemd": {args: []string{"up", "--init", "systemd"}, want: &Lab{Sub: "up", Dir: ".lab", Members: 3, Init: "systemd"}},
		"tls only on up":  {args: []string{"status", "--tls"}, wantErr: true},
		// issue 13 #10: zero members started 3; a path as version wrote
		// outside the build cache.
		"zero members":         {args: []string{"up", "--members", "0"}, wantErr: true},
		"negative members":     {args: []string{"up", "--members", "-1"}, wantErr: true},
		"bare hosts":           {args: []string{"up", "--members", "0", "--spare", "3"}, want: &Lab{Sub: "up", Dir: ".lab", Members: 0, Spare: 3, Init: "runit"}},
		"too many spares":      {args: []string{"up", "--spare", "5"}, wantErr: true},
		"version is a path":    {args: []string{"up", "--etcd-version", "../../../tmp"}, wantErr: true},
		"version with a slash": {args: []string{"up", "--etcd-version", "3.6.0/x"}, wantErr: true},
		"pre-release version":  {args: []string{"up", "--etcd-version", "v3.6.0-rc.1"}, want: &Lab{Sub: "up", Dir: ".lab", Members: 3, Init: "runit", EtcdVersion: "v3.6.0-rc.1"}},
		"fault":                {args: []string{"fault", "kill", "etcd-2"}, want: &Lab{Sub: "fault", Dir: ".lab", Fault: "kill", Target: "etcd-2"}},
	} {
		t.Run(name, func(t *testing.T) {
			got, _, err := ParseLab(tc.args)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}
