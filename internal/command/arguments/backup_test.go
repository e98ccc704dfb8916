package arguments

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseBackup(t *testing.T) {
	cfg := BackupTarget{Path: ".", FromConfig: true}
	tests := map[string]struct {
		args    []string
		parse   func([]string) (any, error)
		want    any
		wantErr bool
	}{
		"run defaults": {
			args: nil, parse: anyRun,
			want: &BackupRun{BackupTarget: cfg, Timeout: time.Hour, Set: map[string]bool{}},
		},
		"run flags override config": {
			args: []string{"--keep-last", "3", "--max-age", "48h", "--member", "etcd-2", "dir"}, parse: anyRun,
			want: &BackupRun{BackupTarget: BackupTarget{Path: "dir", FromConfig: true}, KeepLast: 3, MaxAge: 48 * time.Hour, Member: "etcd-2",
				Timeout: time.Hour, Set: map[string]bool{"keep-last": true, "max-age": true, "member": true}},
		},
		"run without config": {
			args: []string{"--destination", "file:///b", "--endpoint", "http://127.0.0.1:2379", "--cluster", "c"}, parse: anyRun,
			want: &BackupRun{BackupTarget: BackupTarget{Path: ".", Cluster: "c", Destination: "file:///b"}, Endpoint: "http://127.0.0.1:2379",
				Timeout: time.Hour, Set: map[string]bool{"destination": true, "endpoint": true, "cluster": true}},
		},
		"run without config or endpoint": {args: []string{"--destination", "file:///b"}, parse: anyRun, wantErr: true},
		"run negative keep":              {args: []string{"--keep-last", "-1"}, parse: anyRun, wantErr: true},
		"run tls files": {
			args: []string{"--etcd-ca", "/etc/etcd/pki/ca.pem", "--etcd-cert", "/etc/etcd/pki/c.pem", "--etcd-key", "/etc/etcd/pki/c-key.pem", "dir"}, parse: anyRun,
			want: &BackupRun{BackupTarget: BackupTarget{Path: "dir", FromConfig: true}, EtcdCA: "/etc/etcd/pki/ca.pem", EtcdCert: "/etc/etcd/pki/c.pem", EtcdKey: "/etc/etcd/pki/c-key.pem",
				Timeout: time.Hour, Set: map[string]bool{"etcd-ca": true, "etcd-cert": true, "etcd-key": true}},
		},
		"run cert without key": {args: []string{"--etcd-cert", "/c.pem"}, parse: anyRun, wantErr: true},
		"list json":            {args: []string{"--json", "dir"}, parse: anyList, want: &BackupList{BackupTarget: BackupTarget{Path: "dir", FromConfig: true}, JSON: true}},
		"list two paths":       {args: []string{"a", "b"}, parse: anyList, wantErr: true},
		"verify snapshot": {
			args: []string{"--snapshot", "x-1", "--identity", "k.txt", "dir"}, parse: anyVerify,
			want: &BackupVerify{BackupTarget: BackupTarget{Path: "dir", FromConfig: true}, Snapshot: "x-1", Identity: "k.txt", Timeout: 30 * time.Minute},
		},
		"verify latest and snapshot": {args: []string{"--latest", "--snapshot", "x"}, parse: anyVerify, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.parse(tc.args)
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

func anyRun(a []string) (any, error)    { r, _, err := ParseBackupRun(a); return r, err }
func anyList(a []string) (any, error)   { r, _, err := ParseBackupList(a); return r, err }
func anyVerify(a []string) (any, error) { r, _, err := ParseBackupVerify(a); return r, err }
