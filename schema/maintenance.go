package schema

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// maintenance decodes the `maintenance` block.
func (l *loader) maintenance(ctx *hcl.EvalContext, blk *hcl.Block) *Maintenance {
	content := l.content(blk.Body, maintenanceSchema)
	m := &Maintenance{}
	if b := l.single(content, "defrag"); b != nil {
		m.Defrag = l.defrag(ctx, b)
	}
	return m
}

// defrag decodes `defrag { fragmentation_above = "30%"  min_reclaimable = "64MiB" }`.
func (l *loader) defrag(ctx *hcl.EvalContext, blk *hcl.Block) *DefragPolicy {
	as := l.content(blk.Body, defragSchema).Attributes
	d := &DefragPolicy{FragmentationAbove: DefaultFragmentationAbove, MinReclaimable: DefaultMinReclaimable}
	if v, a, ok := l.value(ctx, as, "fragmentation_above", cty.DynamicPseudoType); ok {
		p, err := percentValue(v)
		if err != nil {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid percentage",
				fmt.Sprintf("The fragmentation_above %s. Use a percentage from 0 to 100, such as \"30%%\".", err))...)
		} else {
			d.FragmentationAbove = p
		}
	}
	if a := l.size(ctx, as, "min_reclaimable", &d.MinReclaimable); a != nil && d.MinReclaimable < 0 {
		l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid size",
			fmt.Sprintf("The min_reclaimable must not be negative; %d bytes is.", d.MinReclaimable))...)
		d.MinReclaimable = DefaultMinReclaimable
	}
	return d
}

// percentValue decodes a percentage: "30%", "12.5%" or a plain number 30.
func percentValue(v cty.Value) (float64, error) {
	var r *big.Rat
	switch v.Type() {
	case cty.Number:
		r, _ = v.AsBigFloat().Rat(nil)
	case cty.String:
		s := strings.TrimSpace(v.AsString())
		num, ok := strings.CutSuffix(s, "%")
		if !ok {
			return 0, fmt.Errorf("%q has no %% sign", s)
		}
		var good bool
		r, good = new(big.Rat).SetString(strings.TrimSpace(num))
		if !good {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	default:
		return 0, fmt.Errorf("is not a percentage")
	}
	if r == nil || r.Sign() < 0 || r.Cmp(big.NewRat(100, 1)) > 0 {
		return 0, fmt.Errorf("is outside 0%% to 100%%")
	}
	f, _ := r.Float64()
	return f, nil
}
