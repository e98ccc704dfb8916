package planfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestReadSavedFormats reads the plan files in testdata/, each written by
// the etcdform of its format version (formatN.plan; format 2 by the commit
// before format 3). A file of this version loads; a file of an older one is
// refused with a message that says what to do. When FormatVersion moves
// on, the file of the version before stays here and keeps being refused.
func TestReadSavedFormats(t *testing.T) {
	files, err := filepath.Glob("testdata/format*.plan")
	if err != nil || len(files) == 0 {
		t.Fatalf("no saved plan files: %v", err)
	}
	re := regexp.MustCompile(`format(\d+)\.plan$`)
	older := false
	for _, f := range files {
		v, _ := strconv.Atoi(re.FindStringSubmatch(f)[1])
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := ReadFile(f)
			switch {
			case v == FormatVersion:
				if err != nil || len(p.Steps) == 0 {
					t.Fatalf("a plan file of this format version does not load: %v", err)
				}
			case v < FormatVersion:
				older = true
				want := fmt.Sprintf("made by an older etcdform (format %d), plan again", v)
				if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), f) {
					t.Fatalf("err %v, want ErrVersion saying %q and naming the file", err, want)
				}
			default:
				t.Fatalf("format %d is newer than this package's %d", v, FormatVersion)
			}
		})
	}
	if !older {
		t.Errorf("testdata has no plan file of a format older than %d", FormatVersion)
	}
	if _, err := os.Stat(fmt.Sprintf("testdata/format%d.plan", FormatVersion-1)); err != nil {
		t.Errorf("testdata has no plan file of the previous format version %d: %v", FormatVersion-1, err)
	}
}
