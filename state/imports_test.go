package state_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/etcdform/etcdform/"

// TestProvidersImportNeitherPlanNorApply checks the layering: state and
// every package under providers/ reach neither plan nor apply, directly or
// through another package of this module. Test files are not counted.
func TestProvidersImportNeitherPlanNorApply(t *testing.T) {
	root := ".."
	var starts []string
	err := filepath.WalkDir(filepath.Join(root, "providers"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if len(goFiles(t, path)) > 0 {
			rel, _ := filepath.Rel(root, path)
			starts = append(starts, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(starts) == 0 {
		t.Fatal("no package found under providers/")
	}
	starts = append(starts, "state")

	for _, start := range starts {
		// via maps each reached package of the module to the one that
		// imported it first, to name the path in a failure.
		via := map[string]string{start: ""}
		queue := []string{start}
		for len(queue) > 0 {
			pkg := queue[0]
			queue = queue[1:]
			if forbidden(pkg) {
				chain := []string{pkg}
				for p := via[pkg]; p != ""; p = via[p] {
					chain = append([]string{p}, chain...)
				}
				t.Errorf("%s imports %s: %s", start, pkg, strings.Join(chain, " -> "))
				continue
			}
			for _, imp := range imports(t, filepath.Join(root, filepath.FromSlash(pkg))) {
				rel, ok := strings.CutPrefix(imp, module)
				if !ok {
					continue
				}
				if _, seen := via[rel]; !seen {
					via[rel] = pkg
					queue = append(queue, rel)
				}
			}
		}
	}
}

func forbidden(pkg string) bool {
	for _, p := range []string{"plan", "apply"} {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

// goFiles lists the non-test Go files of dir.
func goFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			files = append(files, filepath.Join(dir, n))
		}
	}
	return files
}

// imports lists the import paths of the non-test Go files of dir.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	set := map[string]bool{}
	fset := token.NewFileSet()
	for _, path := range goFiles(t, dir) {
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, spec := range f.Imports {
			p, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			set[p] = true
		}
	}
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
