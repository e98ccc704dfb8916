package schema

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Install is where the etcd binaries of a cluster come from (the `install`
// block): a release tarball in etcd's layout
// (etcd-vVERSION-OS-ARCH/{etcd,etcdutl} inside
// etcd-vVERSION-OS-ARCH.tar.gz), named by a template over {version}, {os}
// and {arch} that is either a path on the machine running etcdform or an
// https URL. Every artifact is checked against a sha256: SHA256 when set,
// otherwise the line for its file name in the SHA256SUMS file beside it.
// Hosts never download anything: apply uploads the checked binaries over
// SSH.
type Install struct {
	// Source is the template: an absolute local path (a relative one is
	// resolved against the configuration directory) or an https:// URL.
	Source string
	// SHA256 is the tarball's sha256 in lower-case hex, for the version
	// etcd_version names; "" to read SHA256SUMS beside the tarball.
	SHA256 string
	// OS and Arch fill {os} and {arch} ("linux", "amd64").
	OS, Arch string
	// Range is the source attribute's range, for diagnostics.
	Range hcl.Range
}

// Defaults of the install block.
const (
	DefaultInstallOS   = "linux"
	DefaultInstallArch = "amd64"
)

// InstallArches are the architectures etcd publishes Linux releases for.
var InstallArches = []string{"amd64", "arm64", "ppc64le", "s390x"}

var (
	installSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "source", Required: true}, {Name: "sha256"}, {Name: "os"}, {Name: "arch"}}}
	placeholderRe = regexp.MustCompile(`\{[^{}]*\}`)
	sha256Re      = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// IsURL reports whether the source is an https URL rather than a local path.
func (i *Install) IsURL() bool { return strings.HasPrefix(i.Source, "https://") }

// Expand fills the template for version (without a leading "v").
func (i *Install) Expand(version string) string {
	return strings.NewReplacer("{version}", version, "{os}", i.OS, "{arch}", i.Arch).Replace(i.Source)
}

// install decodes the `install` block of cluster c.
func (l *loader) install(blk *hcl.Block, c *Cluster) *Install {
	ctx := l.ctx
	as := l.content(blk.Body, installSchema).Attributes
	in := &Install{OS: DefaultInstallOS, Arch: DefaultInstallArch}
	if a := l.str(ctx, as, "os", &in.OS); a != nil {
		l.oneOf(a, "os", in.OS, "linux")
	}
	if a := l.str(ctx, as, "arch", &in.Arch); a != nil {
		l.oneOf(a, "arch", in.Arch, InstallArches...)
	}
	if a := l.str(ctx, as, "sha256", &in.SHA256); a != nil {
		in.SHA256 = strings.ToLower(in.SHA256)
		if !sha256Re.MatchString(in.SHA256) {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid sha256",
				fmt.Sprintf("The sha256 %q is not a sha256 sum: 64 hexadecimal digits, as sha256sum prints them.", in.SHA256))...)
			in.SHA256 = ""
		}
	}
	a := l.str(ctx, as, "source", &in.Source)
	if a == nil {
		return nil
	}
	in.Range = a.Expr.Range()
	if why := installSourceProblem(in.Source); why != "" {
		l.diags = append(l.diags, errAt(in.Range, "Invalid install source",
			fmt.Sprintf("The install source %q %s. Use an https:// URL or a path on this machine, with {version}, {os} and {arch} where the release's own name has them, such as \"https://github.com/etcd-io/etcd/releases/download/v{version}/etcd-v{version}-{os}-{arch}.tar.gz\".", in.Source, why))...)
		return nil
	}
	if !in.IsURL() {
		in.Source = l.localPath(in.Source)
	}
	if c.EtcdVersion == "" {
		l.diags = append(l.diags, errAt(blk.DefRange, "Install source without etcd_version",
			"An install block says where binaries come from, and etcd_version which one to install: set etcd_version in this cluster.")...)
		return in
	}
	if !in.IsURL() {
		l.mustExist(in.Expand(c.EtcdVersion), in.Range, fmt.Sprintf("release tarball of etcd %s", c.EtcdVersion))
	}
	return in
}

// installSourceProblem says what is wrong with an install source
// template, or "" when nothing is.
func installSourceProblem(s string) string {
	for _, p := range placeholderRe.FindAllString(s, -1) {
		switch p {
		case "{version}", "{os}", "{arch}":
		default:
			return fmt.Sprintf("has the placeholder %s; only {version}, {os} and {arch} are filled in", p)
		}
	}
	probe := strings.NewReplacer("{version}", "3.6.16", "{os}", "linux", "{arch}", "amd64").Replace(s)
	if strings.ContainsAny(probe, "{}") {
		return "has an unmatched { or }"
	}
	if !strings.HasSuffix(probe, ".tar.gz") {
		return "does not name a .tar.gz release tarball"
	}
	if strings.Contains(probe, "://") {
		u, err := url.Parse(probe)
		switch {
		case err != nil:
			return "is not a URL: " + rootCause(err)
		case u.Scheme == "http":
			return "is plain http"
		case u.Scheme != "https":
			return fmt.Sprintf("has the scheme %q; only https URLs and local paths are sources", u.Scheme)
		case u.User != nil:
			return "carries credentials, which would end up in plan files"
		case u.RawQuery != "" || u.Fragment != "":
			return "has a query or fragment; the SHA256SUMS file is looked up beside the tarball's path"
		}
		if _, why := hostProblem(u.Hostname()); why != "" {
			return "has a host that " + why
		}
		return ""
	}
	if strings.HasSuffix(probe, string(os.PathSeparator)) {
		return "ends with a separator"
	}
	return ""
}
