package etcdbin

import (
	"strings"
	"testing"
)

// TestCheckVersion: only x.y.z[-pre] names a cache directory; a path such
// as ../../../tmp wrote outside the cache (issue 13 #10).
func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"3.6.16": true, "v3.6.16": true, "3.6.0-rc.1": true, "3.5.0-alpha.0": true, "0.0.0": true,
		"": false, "../../../tmp": false, "3.6": false, "3.6.16/../../x": false, "3.6.16-": false,
		"3.6.16-rc..1": false, "3.6.16-rc/1": false, "03.6.1": false, "3.6.16\n": false, "v": false,
		strings.Repeat("1", 70) + ".0.0": false,
	} {
		err := CheckVersion(v)
		if (err == nil) != ok {
			t.Errorf("CheckVersion(%q) = %v, want ok=%v", v, err, ok)
		}
		if _, err := CacheDir(v); (err == nil) != ok {
			t.Errorf("CacheDir(%q) error = %v, want ok=%v", v, err, ok)
		}
	}
}
