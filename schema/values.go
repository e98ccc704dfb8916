package schema

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/v2"

	"github.com/etcdform/etcdform/internal/textcheck"
)

// Every string of the configuration ends up somewhere outside etcdform: in
// a file on a member's host (etcd's YAML, a cron.d line that cron runs as
// root, a systemd unit), in a command run there over SSH, or in plan
// output. So no string may hold a character that ends a line or hides
// text (checked for every string attribute in loader.str), and the values
// that name hosts, paths on hosts, services and destinations are checked
// against what their target accepts, not quoted and hoped for.

// ControlRune returns the first character of s that no value may contain
// (textcheck.ControlRune).
func ControlRune(s string) (r rune, pos int, found bool) { return textcheck.ControlRune(s) }

// RuneName names a character for a message (textcheck.RuneName).
func RuneName(r rune) string { return textcheck.RuneName(r) }

// checkChars reports a value of attribute a (named name) that holds a
// character ControlRune refuses. It reports whether the value is clean.
func (l *loader) checkChars(a *hcl.Attribute, name, s string) bool {
	r, pos, found := ControlRune(s)
	if !found {
		return true
	}
	l.rejected[a] = true
	l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid character in value",
		fmt.Sprintf("The %s contains %s at character %d. Values are written into files and commands on the members' hosts, where such a character would end a line or hide text; remove it.", name, RuneName(r), pos))...)
	return false
}

// firstOutside returns the first character of s that is neither a letter
// nor a digit nor one of extra, and whether there is one.
func firstOutside(s, extra string) (rune, bool) {
	for _, c := range s {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune(extra, c) {
			return c, true
		}
	}
	return 0, false
}

// pathChars are the characters besides letters and digits that a path on a
// host may hold: no whitespace, quotes, shell or YAML metacharacters, and
// no systemd specifier (%).
const pathChars = "/._-+@,=~"

// hostPathProblem says what is wrong with p as an absolute path on a host,
// or "" when nothing is.
func hostPathProblem(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "must be absolute"
	}
	if c, bad := firstOutside(p, pathChars); bad {
		return fmt.Sprintf("contains %q; a path on a host may hold letters, digits and %s only", c, strings.Join(strings.Split(pathChars, ""), " "))
	}
	if clean := path.Clean(p); clean != p {
		return fmt.Sprintf("is not in clean form (no empty, . or .. elements, no trailing /): write %q", clean)
	}
	return ""
}

// hostProblem checks s as an SSH or URL host: a DNS name or an IP
// literal, an IPv6 one with or without brackets. It returns the host
// without brackets, and what is wrong ("" when nothing is).
func hostProblem(s string) (string, string) {
	if s == "" {
		return "", "is empty"
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		inner := s[1 : len(s)-1]
		if ip := net.ParseIP(inner); ip == nil || ip.To4() != nil && !strings.Contains(inner, ":") {
			return s, "has brackets, which only an IPv6 address takes"
		}
		return inner, ""
	}
	if net.ParseIP(s) != nil {
		return s, ""
	}
	name := strings.TrimSuffix(s, ".")
	if len(name) > 253 {
		return s, "is longer than 253 characters"
	}
	labels := strings.Split(name, ".")
	if last := labels[len(labels)-1]; last != "" && strings.Trim(last, "0123456789") == "" {
		return s, "is neither an IP address nor a DNS name"
	}
	for _, label := range labels {
		switch {
		case label == "":
			return s, "has an empty label (two dots in a row, or a leading dot)"
		case len(label) > 63:
			return s, fmt.Sprintf("has the label %q, longer than 63 characters", label)
		case label[0] == '-' || label[len(label)-1] == '-':
			return s, fmt.Sprintf("has the label %q, which starts or ends with '-'", label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return s, fmt.Sprintf("contains %q; a host is a DNS name (letters, digits, '-', '_' and dots) or an IP address", c)
			}
		}
	}
	return s, ""
}

// checkHost checks the host attribute a and returns the host to use
// (brackets removed from an IPv6 literal), or "" when it is invalid.
func (l *loader) checkHost(a *hcl.Attribute, name, s string) string {
	h, why := hostProblem(s)
	if why == "" {
		return h
	}
	l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid host",
		fmt.Sprintf("The %s %q %s. Use the DNS name or IP address the host is reached at.", name, s, why))...)
	return ""
}

// serviceNameProblem checks a systemd unit or runit service name (runit
// also takes an absolute service directory).
func serviceNameProblem(manager, s string) string {
	if manager == "runit" && strings.HasPrefix(s, "/") {
		return hostPathProblem(s)
	}
	switch {
	case s == "":
		return "is empty"
	case len(s) > 255:
		return "is longer than 255 characters"
	case s[0] == '-' || s[0] == '.':
		return fmt.Sprintf("starts with %q", s[0])
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(":_.@-", c)) {
			return fmt.Sprintf("contains %q; a service name holds letters, digits and : _ . @ - only", c)
		}
	}
	return ""
}

// userProblem checks an SSH user name.
func userProblem(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > 255:
		return "is longer than 255 characters"
	case s[0] == '-':
		return "starts with '-'"
	}
	if c, bad := firstOutside(s, "._-@"); bad {
		return fmt.Sprintf("contains %q; a user name holds letters, digits and . _ - @ only", c)
	}
	return ""
}

// systemUserProblem checks the name of the system user etcd runs as, as
// useradd accepts it by default.
func systemUserProblem(s string) string {
	if !systemUserRe.MatchString(s) {
		return "is not a system user name: a lower-case letter or '_', then at most 31 lower-case letters, digits, '_' and '-'"
	}
	return ""
}

var systemUserRe = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// destinationProblem checks a backup destination: file:///absolute/dir or
// s3://bucket[/prefix].
func destinationProblem(s string) string {
	if p, ok := strings.CutPrefix(s, "file://"); ok {
		if why := hostPathProblem(p); why != "" {
			return "has a directory that " + why
		}
		return ""
	}
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "must be file:///absolute/dir or s3://bucket/prefix"
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if len(bucket) < 3 || len(bucket) > 63 || strings.Trim(bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" ||
		strings.Trim(bucket[:1]+bucket[len(bucket)-1:], "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return fmt.Sprintf("has the bucket %q; a bucket name has 3 to 63 lower-case letters, digits, '.' and '-', and starts and ends with a letter or digit", bucket)
	}
	if c, bad := firstOutside(prefix, "/._-+=@,"); bad {
		return fmt.Sprintf("has a prefix containing %q; a prefix may hold letters, digits and / . _ - + = @ , only", c)
	}
	for _, e := range strings.Split(prefix, "/") {
		if e == "." || e == ".." {
			return fmt.Sprintf("has a prefix with a %q element", e)
		}
	}
	return ""
}

// endpointProblem checks an S3 endpoint: [http[s]://]host[:port].
func endpointProblem(s string) string {
	raw := s
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "must have the form [http[s]://]host[:port]"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "has an invalid port"
		}
	}
	if _, why := hostProblem(u.Hostname()); why != "" {
		return "has a host that " + why
	}
	return ""
}

// regionProblem checks an S3 region name ("us-east-1", "fr-par").
func regionProblem(s string) string {
	if c, bad := firstOutside(s, "-_"); bad || s == "" {
		if s == "" {
			return "is empty"
		}
		return fmt.Sprintf("contains %q; a region holds letters, digits, '-' and '_' only", c)
	}
	return ""
}

// checkValue reports the attribute a (named name) when problem says what
// is wrong with its value s.
func (l *loader) checkValue(a *hcl.Attribute, summary, name, s, problem string) bool {
	if a == nil || problem == "" {
		return true
	}
	l.diags = append(l.diags, errAt(a.Expr.Range(), summary, fmt.Sprintf("The %s %q %s.", name, s, problem))...)
	return false
}
