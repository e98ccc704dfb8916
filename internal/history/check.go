package history

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdict is the outcome of a check.
type Verdict string

const (
	Ok      Verdict = "ok"
	Illegal Verdict = "NOT linearizable"
	Timeout Verdict = "unknown (the check ran out of time)"
)

// Result is a checked history.
type Result struct {
	Ops, Puts, Gets, Unknown int
	Verdict                  Verdict
	Took                     time.Duration
	info                     porcupine.LinearizationInfo
}

// String is the one-line summary tests log.
func (r Result) String() string {
	v := string(r.Verdict)
	return fmt.Sprintf("history: %d ops (%d puts, %d gets, %d unknown), linearizable: %s (checked in %s)",
		r.Ops, r.Puts, r.Gets, r.Unknown, v, r.Took.Round(time.Millisecond))
}

// WriteVisualization writes porcupine's HTML view of the history (with
// the longest linearizations it found, and where they stop) to dir and
// returns the file's path.
func (r Result) WriteVisualization(dir string) (string, error) {
	path := filepath.Join(dir, "history.html")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := r.Visualize(f); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// Visualize writes porcupine's HTML view of the history to w.
func (r Result) Visualize(w io.Writer) error {
	return porcupine.Visualize(model, r.info, w)
}

// Check checks ops for linearizability against a key-value model,
// partitioned by key, within timeout.
func Check(ops []Op, timeout time.Duration) Result {
	var res Result
	for _, o := range ops {
		res.Ops++
		switch o.Kind {
		case Put:
			res.Puts++
		case Get:
			res.Gets++
		}
		if o.Unknown() {
			res.Unknown++
		}
	}
	t0 := time.Now()
	verdict, info := porcupine.CheckOperationsVerbose(model, operations(ops), timeout)
	res.Took = time.Since(t0)
	res.info = info
	switch verdict {
	case porcupine.Ok:
		res.Verdict = Ok
	case porcupine.Illegal:
		res.Verdict = Illegal
	default:
		res.Verdict = Timeout
	}
	return res
}

// input and output are porcupine's view of an operation.
type input struct {
	kind       Kind
	key, value string // value: what a put writes
}

type output struct {
	value   string // what a get read, "" for a missing key
	unknown bool   // a put whose outcome is unknown
}

// operations turns the recorded history into porcupine's operations.
//
//   - A get that failed says nothing about the state: it is left out.
//   - A put that failed may have taken effect at any time after its call,
//     or never: it returns "at infinity" (after everything else), and the
//     model applies it when the checker places it. Values are unique, so
//     two refinements keep the search small without losing any
//     linearization: a failed put whose value no get ever returned can be
//     placed last, where it changes nothing, so it is left out; one whose
//     value was read must have taken effect before the first such read
//     returned, so it returns then.
func operations(ops []Op) []porcupine.Operation {
	var end int64
	firstRead := map[string]int64{} // key + value -> earliest return of a get that read it
	for _, o := range ops {
		end = max(end, o.Return, o.Call)
		if o.Kind == Get && !o.Unknown() && o.Value != "" {
			k := o.Key + "\x00" + o.Value
			if r, ok := firstRead[k]; !ok || o.Return < r {
				firstRead[k] = o.Return
			}
		}
	}
	var out []porcupine.Operation
	for _, o := range ops {
		ret := o.Return
		switch {
		case o.Kind == Get && o.Unknown():
			continue
		case o.Kind == Put && o.Unknown():
			r, read := firstRead[o.Key+"\x00"+o.Value]
			switch {
			case !read:
				continue
			case r >= o.Call:
				ret = r
			default:
				// Read before the put was called: not linearizable,
				// and the checker says so with the put at infinity.
				ret = end + 1
			}
		}
		out = append(out, porcupine.Operation{
			ClientId: o.Client,
			Input:    input{kind: o.Kind, key: o.Key, value: putValue(o)},
			Call:     o.Call,
			Output:   output{value: getValue(o), unknown: o.Unknown()},
			Return:   ret,
		})
	}
	return out
}

func putValue(o Op) string {
	if o.Kind == Put {
		return o.Value
	}
	return ""
}

func getValue(o Op) string {
	if o.Kind == Get {
		return o.Value
	}
	return ""
}

// model is a register per key: the state is the key's value, "" when the
// key does not exist (no put writes "").
var model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(input).key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, in, out any) (bool, any) {
		i, o := in.(input), out.(output)
		switch i.kind {
		case Put:
			return true, i.value
		case Get:
			return o.value == state.(string), state
		}
		return false, state
	},
	Equal: func(a, b any) bool { return a.(string) == b.(string) },
	DescribeOperation: func(in, out any) string {
		i, o := in.(input), out.(output)
		switch {
		case i.kind == Put && o.unknown:
			return fmt.Sprintf("put(%s, %s) -> unknown", i.key, i.value)
		case i.kind == Put:
			return fmt.Sprintf("put(%s, %s) -> ok", i.key, i.value)
		case o.value == "":
			return fmt.Sprintf("get(%s) -> (none)", i.key)
		}
		return fmt.Sprintf("get(%s) -> %s", i.key, o.value)
	},
	DescribeState: func(s any) string {
		if s.(string) == "" {
			return "(none)"
		}
		return s.(string)
	},
}
