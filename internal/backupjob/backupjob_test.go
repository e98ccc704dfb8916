package backupjob

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testSpec() JobSpec {
	return JobSpec{Version: JobFormatVersion, Cluster: "main", Member: "etcd-1", Schedule: "0 */6 * * *",
		Binary: DefaultBinary, BinarySHA256: "abc123", Endpoint: "http://10.0.2.11:2379", Destination: "s3://b/p",
		S3Endpoint: "https://s3.example:9000", S3Region: "eu-west-1", S3PathStyle: true,
		Recipient: "age1abc", KeepLast: 28, MaxAge: 720 * time.Hour,
		Textfile: DefaultTextfile, EnvFile: DefaultEnvFile, WorkDir: DefaultWorkDir}
}

// cronRoundTrip renders s as a cron.d file, parses it back, and fails t
// unless the spec read back is s.
func cronRoundTrip(t *testing.T, s JobSpec) ([]byte, JobSpec) {
	t.Helper()
	b, err := RenderCron(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCron(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Fatalf("(-rendered +parsed)\n%s", diff)
	}
	return b, got
}

func TestCronRoundTrip(t *testing.T) {
	s := testSpec()
	b, got := cronRoundTrip(t, s)
	if len(DiffJob(s, &got)) != 0 {
		t.Fatalf("DiffJob of a round trip: %v", DiffJob(s, &got))
	}
	line := string(b[strings.LastIndex(strings.TrimSpace(string(b)), "\n")+1:])
	if !strings.HasPrefix(line, "0 */6 * * * root ") || !strings.Contains(line, "/usr/local/bin/etcdform backup run --cluster main") {
		t.Fatalf("job line %q", line)
	}
	edited := strings.Replace(string(b), "0 */6 * * * root", "0 */4 * * * root", 1)
	if _, err := ParseCron([]byte(edited)); err == nil || !strings.Contains(err.Error(), "edited by hand") {
		t.Fatalf("ParseCron of an edited file = %v", err)
	}
	if _, err := ParseCron([]byte("0 * * * * root true\n")); err == nil {
		t.Fatal("ParseCron accepted a foreign file")
	}
}

// The job line runs in a real shell: the command it execs is exactly
// the binary with Args, and the env file's variables reach it.
func TestCronCommandRunsInShell(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "etcdform")
	out := filepath.Join(dir, "out")
	os.WriteFile(fake, []byte("#!/bin/sh\nprintf '%s\\n' \"$AWS_ACCESS_KEY_ID\" \"$@\" > "+out+"\n"), 0o755)
	env := filepath.Join(dir, "backup.env")
	os.WriteFile(env, []byte("AWS_ACCESS_KEY_ID=from-env-file\n"), 0o600)
	s := testSpec()
	s.Binary, s.EnvFile = fake, env
	s.Recipient = "age1 with 'quotes' and %"
	b, err := RenderCron(s)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(b))
	line = line[strings.LastIndex(line, "\n")+1:]
	cmd := strings.SplitN(line, " ", 7)[6]   // after five fields and the user
	cmd = strings.ReplaceAll(cmd, `\%`, "%") // cron's unescaping
	cmd = strings.Replace(cmd, ">>"+DefaultLog+" 2>&1", "", 1)
	cmd = strings.Replace(cmd, "mkdir -p "+LogDir+" && ", "", 1) // not this machine's /var/log
	if o, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, o)
	}
	got, _ := os.ReadFile(out)
	want := strings.Join(append([]string{"from-env-file"}, s.Args()...), "\n") + "\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

func TestDiffJob(t *testing.T) {
	s := testSpec()
	if got := DiffJob(s, nil); len(got) != 1 || got[0].Before != "(absent)" {
		t.Fatalf("not installed: %v", got)
	}
	old := s
	old.Schedule, old.BinarySHA256, old.KeepLast = "@daily", "old", 7
	want := []JobChange{
		{Attr: "binary_sha256", Before: "old", After: "abc123"},
		{Attr: "keep_last", Before: "7", After: "28"},
		{Attr: "schedule", Before: "@daily", After: "0 */6 * * *"},
	}
	if diff := cmp.Diff(want, DiffJob(s, &old)); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

// What Render writes, Parse reads back, under either scheduler; a
// missing or edited file is reported.
func TestRenderParseRoundTrip(t *testing.T) {
	s := testSpec()
	s.Version = JobFormatVersion
	for _, sch := range []Scheduler{Cron, Systemd} {
		fs, err := Render(s, sch)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, f := range fs {
			files[f.Path] = f.Content
		}
		got, err := Parse(s.Cluster, sch, files)
		if err != nil {
			t.Fatalf("%s: %v", sch, err)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Fatalf("%s (-want +got)\n%s", sch, diff)
		}
		last := fs[len(fs)-1].Path
		files[last] = append(files[last], "# edit\n"...)
		if _, err := Parse(s.Cluster, sch, files); err == nil || !strings.Contains(err.Error(), "edited by hand") {
			t.Fatalf("%s: an edited file: %v", sch, err)
		}
		delete(files, last)
		if _, err := Parse(s.Cluster, sch, files); err == nil || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("%s: a missing file: %v", sch, err)
		}
	}
}

// A value that would break a job file's lines is refused by every
// renderer, and by Parse (which re-renders), so neither a configuration
// the schema missed nor an edited plan file puts a line into cron.d.
func TestRenderRefusesLineBreaks(t *testing.T) {
	cases := map[string]func(*JobSpec){
		"newline in destination":       func(s *JobSpec) { s.Destination = "file:///var/backups/x\n* * * * * root touch /tmp/pwned #" },
		"carriage return in s3 region": func(s *JobSpec) { s.S3Region = "eu\r* * * * * root id" },
		"newline in s3 endpoint":       func(s *JobSpec) { s.S3Endpoint = "https://s3.example\n* * * * * root id" },
		"line separator in recipient":  func(s *JobSpec) { s.Recipient = "age1abc\u2028x" },
		"next-line in endpoint":        func(s *JobSpec) { s.Endpoint = "http://10.0.2.11:2379\u0085x" },
		"NUL in cluster":               func(s *JobSpec) { s.Cluster = "main\x00" },
		"newline in member":            func(s *JobSpec) { s.Member = "etcd-1\n* * * * * root id" },
		"newline between cron fields":  func(s *JobSpec) { s.Schedule = "0 0 * *\n*" },
		"shell in schedule":            func(s *JobSpec) { s.Schedule = "0 0 * * * root id;" },
		"tab in work dir":              func(s *JobSpec) { s.WorkDir = "/var/lib/x\ty" },
		"relative binary":              func(s *JobSpec) { s.Binary = "etcdform" },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			s := testSpec()
			edit(&s)
			for _, sch := range []Scheduler{Cron, Systemd} {
				if fs, err := Render(s, sch); err == nil {
					t.Errorf("%s: Render accepted it:\n%s", sch, fs[0].Content)
				}
			}
			if b, err := RenderCron(s); err == nil {
				t.Errorf("RenderCron accepted it:\n%s", b)
			}
			if _, _, err := RenderSystemd(s); err == nil {
				t.Error("RenderSystemd accepted it")
			}
			// A hand-made cron file carrying the spec is refused on
			// read-back (apply's Check) as well.
			spec, _ := json.Marshal(s)
			file := []byte(specPrefix + string(spec) + "\n")
			if _, err := ParseCron(file); err == nil {
				t.Error("ParseCron accepted it")
			}
		})
	}
}

// TestTLSFiles: on an https endpoint the job names the member's client
// files; they are flags of its command line, kept by a round trip, and
// must be absolute paths.
func TestTLSFiles(t *testing.T) {
	s := testSpec()
	s.Endpoint = "https://10.0.2.11:2379"
	s.EtcdCA, s.EtcdCert, s.EtcdKey = "/etc/etcd/pki/ca.pem", "/etc/etcd/pki/etcd-1.pem", "/etc/etcd/pki/etcd-1-key.pem"
	args := strings.Join(s.Args(), " ")
	if !strings.Contains(args, "--etcd-ca /etc/etcd/pki/ca.pem --etcd-cert /etc/etcd/pki/etcd-1.pem --etcd-key /etc/etcd/pki/etcd-1-key.pem") {
		t.Errorf("args %q do not pass the TLS files", args)
	}
	cronRoundTrip(t, s)
	s.EtcdKey = "pki/etcd-1-key.pem"
	if _, err := RenderCron(s); err == nil || !strings.Contains(err.Error(), "etcd_key") {
		t.Errorf("a relative key path rendered: %v", err)
	}
}
