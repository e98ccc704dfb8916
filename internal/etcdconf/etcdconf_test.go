package etcdconf

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func goodFile() *File {
	return &File{Name: "etcd-1", DataDir: "/var/lib/etcd", ListenPeerURLs: "http://10.0.0.1:2380",
		ListenClientURLs: "http://10.0.0.1:2379", InitialAdvertisePeerURLs: "http://10.0.0.1:2380",
		AdvertiseClientURLs: "http://10.0.0.1:2379", InitialCluster: "etcd-1=http://10.0.0.1:2380",
		InitialClusterState: "existing", AutoCompactionMode: "periodic", AutoCompactionRetention: "0s",
		Logger: "zap", LogLevel: "info", PeerTransportSecurity: &Security{CertFile: "/etc/etcd/pki/p.pem"}}
}

func TestMarshalRoundTrip(t *testing.T) {
	f := goodFile()
	b, err := Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*f, p.File); diff != "" {
		t.Fatalf("(-marshalled +parsed)\n%s", diff)
	}
}

// Marshal refuses what the file cannot carry instead of writing a file
// that etcd reads differently from what the plan showed.
func TestMarshalRefuses(t *testing.T) {
	cases := map[string]struct {
		edit func(*File)
		want string
	}{
		"newline in data dir":        {func(f *File) { f.DataDir = "/var/lib/etcd\nenable-pprof: true" }, "data-dir"},
		"carriage return in name":    {func(f *File) { f.Name = "etcd-1\r" }, "name"},
		"NUL in peer URL":            {func(f *File) { f.ListenPeerURLs = "http://10.0.0.1:2380\x00" }, "listen-peer-urls"},
		"line separator in cert":     {func(f *File) { f.PeerTransportSecurity.CertFile = "/a\u2028b" }, "peer-transport-security.cert-file"},
		"newline in initial-cluster": {func(f *File) { f.InitialCluster = "etcd-1=http://x:1\nx: y" }, "initial-cluster"},
		"comma in client URL":        {func(f *File) { f.AdvertiseClientURLs = "http://a:1,http://b:2" }, "advertise-client-urls"},
		"equals in name":             {func(f *File) { f.Name = "a=b" }, "name"},
		"newline in log output":      {func(f *File) { f.LogOutputs = []string{"stderr", "/x\nmetrics: extensive"} }, "log-outputs"},
		"tab in metrics URL":         {func(f *File) { f.ListenMetricsURLs = "http://a:2381\t" }, "listen-metrics-urls"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := goodFile()
			tc.edit(f)
			b, err := Marshal(f)
			if err == nil {
				t.Fatalf("Marshal accepted it:\n%s", b)
			}
			if !strings.Contains(err.Error(), "the "+tc.want+" ") {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
		})
	}
}
