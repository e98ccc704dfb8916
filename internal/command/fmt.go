package command

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/schema"
)

func init() {
	register("fmt", "Rewrite .hcl files in the canonical format", runFmt)
}

// runFmt formats every .hcl and .vars file under the given paths,
// recursing into directories. With --check it rewrites nothing, lists the
// files that differ and exits 1 if any do. A file that does not parse is
// reported and left alone.
func runFmt(_ context.Context, env *Env, args []string) int {
	a, flags, err := arguments.ParseFmt(args)
	if code, done := argError(env, flags, err); done {
		return code
	}
	var files []string
	for _, p := range a.Paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if path == p || strings.HasSuffix(path, ".hcl") || strings.HasSuffix(path, ".vars") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			printError(env, "%v", err)
			return 1
		}
	}
	code := 0
	srcs := map[string][]byte{}
	var diags hcl.Diagnostics
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			printError(env, "%v", err)
			code = 1
			continue
		}
		if _, d := schema.ParseConfig(src, f); d.HasErrors() {
			srcs[f] = src
			diags = append(diags, d...)
			code = 1
			continue
		}
		out := hclwrite.Format(src)
		if bytes.Equal(out, src) {
			continue
		}
		if a.Check {
			fmt.Fprintln(env.Stdout, f)
			code = 1
			continue
		}
		if err := writeFileKeepMode(f, out); err != nil {
			printError(env, "%v", err)
			code = 1
			continue
		}
		fmt.Fprintln(env.Stdout, f)
	}
	if len(diags) > 0 {
		v := &views.DiagnosticsHuman{Out: env.Stdout, Err: env.Stderr, Files: srcs}
		_ = v.Write(diags)
	}
	return code
}

// writeFileKeepMode replaces path's contents atomically, keeping its mode.
// A symbolic link is written through: its target gets the new contents
// (through a temp file beside the target) and the link stays a link.
func writeFileKeepMode(path string, data []byte) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".fmt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}
