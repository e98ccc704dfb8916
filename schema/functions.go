package schema

import (
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxFileFuncBytes bounds what file() reads, so a typo such as
// file("/dev/zero") cannot hang or exhaust memory.
const maxFileFuncBytes = 4 << 20

// functions returns the functions available in expressions. file() resolves
// relative paths against dir; env() reads through getenv.
func functions(dir string, getenv func(string) string) map[string]function.Function {
	return map[string]function.Function{
		"file":       fileFunc(dir),
		"env":        envFunc(getenv),
		"cidrhost":   cidrhostFunc,
		"format":     boundedFormat(stdlib.FormatFunc),
		"join":       stdlib.JoinFunc,
		"lower":      stdlib.LowerFunc,
		"upper":      stdlib.UpperFunc,
		"split":      stdlib.SplitFunc,
		"replace":    stdlib.ReplaceFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"concat":     stdlib.ConcatFunc,
		"length":     lengthFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"min":        stdlib.MinFunc,
		"max":        stdlib.MaxFunc,
		"tostring":   stdlib.MakeToFunc(cty.String),
		"tonumber":   stdlib.MakeToFunc(cty.Number),
		"tobool":     stdlib.MakeToFunc(cty.Bool),
		"formatlist": boundedFormat(stdlib.FormatListFunc),
		"can":        tryfunc.CanFunc,
		"try":        tryfunc.TryFunc,
	}
}

// lengthFunc is length() as Terraform has it: the number of characters of
// a string, or of elements of a list, map, set or tuple, or of attributes
// of an object. (cty's own length() takes collections only, so the
// documented length(var.ssh_user) > 0 failed.)
var lengthFunc = function.New(&function.Spec{
	Description: "The number of characters of a string, or of elements of a collection.",
	// It takes marked values itself: go-cty would otherwise unmark a whole
	// collection, copying every element, to count them. The count carries
	// the marks of the value, not of its elements.
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true, AllowMarked: true}},
	Type: func(args []cty.Value) (cty.Type, error) {
		switch ty := args[0].Type(); {
		case ty == cty.String, ty == cty.DynamicPseudoType, ty.IsCollectionType(), ty.IsTupleType(), ty.IsObjectType():
			return cty.Number, nil
		default:
			return cty.NilType, function.NewArgErrorf(0, "length() takes a string, a list, a map, a set, a tuple or an object, not %s", ty.FriendlyName())
		}
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, marks := args[0].Unmark()
		var n cty.Value
		var err error
		switch ty := v.Type(); {
		case !v.IsKnown():
			n = cty.UnknownVal(cty.Number)
		case ty == cty.String:
			n, err = stdlib.Strlen(v)
		case ty.IsObjectType():
			n = cty.NumberIntVal(int64(len(ty.AttributeTypes())))
		default:
			n, err = stdlib.Length(v)
		}
		if err != nil {
			return cty.NilVal, err
		}
		return n.WithMarks(marks), nil
	},
})

func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a UTF-8 text file, relative to the configuration directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			st, err := os.Stat(p)
			if err != nil {
				return cty.UnknownVal(cty.String), fmt.Errorf("cannot read %s: %w", args[0].AsString(), err)
			}
			if !st.Mode().IsRegular() {
				return cty.UnknownVal(cty.String), fmt.Errorf("%s is not a regular file", args[0].AsString())
			}
			f, err := os.Open(p)
			if err != nil {
				return cty.UnknownVal(cty.String), fmt.Errorf("cannot read %s: %w", args[0].AsString(), err)
			}
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, maxFileFuncBytes+1))
			if err != nil {
				return cty.UnknownVal(cty.String), fmt.Errorf("cannot read %s: %w", args[0].AsString(), err)
			}
			if len(b) > maxFileFuncBytes {
				return cty.UnknownVal(cty.String), fmt.Errorf("%s is larger than %d bytes", args[0].AsString(), maxFileFuncBytes)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

func envFunc(getenv func(string) string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or \"\" when it is unset.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(getenv(args[0].AsString())), nil
		},
	})
}

// cidrhostFunc is Terraform's cidrhost(prefix, hostnum): the address of
// host number hostnum within prefix; a negative hostnum counts from the end.
var cidrhostFunc = function.New(&function.Spec{
	Description: "Returns the IP address of a host number within a CIDR prefix.",
	Params: []function.Parameter{
		{Name: "prefix", Type: cty.String},
		{Name: "hostnum", Type: cty.Number},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := netip.ParsePrefix(args[0].AsString())
		if err != nil {
			return cty.UnknownVal(cty.String), fmt.Errorf("invalid CIDR prefix: %w", err)
		}
		n, acc := args[1].AsBigFloat().Int(nil)
		if acc != big.Exact {
			return cty.UnknownVal(cty.String), fmt.Errorf("host number must be a whole number")
		}
		p = p.Masked()
		hostBits := p.Addr().BitLen() - p.Bits()
		size := new(big.Int).Lsh(big.NewInt(1), uint(hostBits))
		if n.Sign() < 0 {
			n.Add(n, size)
		}
		if n.Sign() < 0 || n.Cmp(size) >= 0 {
			return cty.UnknownVal(cty.String), fmt.Errorf("prefix %s has no host number %s", p, args[1].AsBigFloat().Text('f', -1))
		}
		base := new(big.Int).SetBytes(p.Addr().AsSlice())
		base.Add(base, n)
		b := base.FillBytes(make([]byte, p.Addr().BitLen()/8))
		addr, _ := netip.AddrFromSlice(b)
		return cty.StringVal(addr.String()), nil
	},
})

// maxFormatWidth bounds widths and precisions in format strings, so that
// format("%999999999s", x) cannot allocate a gigabyte.
const maxFormatWidth = 1024

// boundedFormat wraps format or formatlist with a check of the widths and
// precisions of the format string (the first argument).
func boundedFormat(f function.Function) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 0 && args[0].IsKnown() && !args[0].IsNull() && args[0].Type() == cty.String {
				if err := checkFormatWidths(args[0].AsString()); err != nil {
					return cty.DynamicVal, function.NewArgError(0, err)
				}
			}
			return f.Call(args)
		},
	})
}

func checkFormatWidths(s string) error {
	n, inVerb := 0, false
	for _, r := range s {
		switch {
		case r == '%' && !inVerb:
			inVerb, n = true, 0
		case inVerb && r >= '0' && r <= '9':
			n = n*10 + int(r-'0')
			if n > maxFormatWidth {
				return fmt.Errorf("widths and precisions above %d are not supported", maxFormatWidth)
			}
		case inVerb && strings.ContainsRune(".-+# [*]", r):
			n = 0
		case inVerb:
			inVerb = false
		}
	}
	return nil
}
