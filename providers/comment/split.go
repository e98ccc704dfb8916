package comment

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// A block is a construct that must be closed where a part ends and reopened
// where the next begins.
type block struct {
	kind   blockKind
	fence  string // the fence's run of ` or ~, for a code fence
	reopen string // what starts it again in the next part
}

type blockKind int

const (
	fenceBlock blockKind = iota
	detailsBlock
	tableBlock
)

func (b block) close() string {
	switch b.kind {
	case fenceBlock:
		return b.fence + "\n"
	case detailsBlock:
		return "\n</details>\n"
	}
	return "" // a table simply ends
}

func closers(stack []block) string {
	var s strings.Builder
	for i := len(stack) - 1; i >= 0; i-- {
		s.WriteString(stack[i].close())
	}
	return s.String()
}

func reopeners(stack []block) string {
	var s strings.Builder
	for _, b := range stack {
		s.WriteString(b.reopen)
	}
	return s.String()
}

var (
	fenceRE    = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")
	tableSepRE = regexp.MustCompile(`^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$`)
	detailsRE  = regexp.MustCompile(`(?i)<(/?)details\b`)
)

// units cuts text into lines (each ending in "\n"), keeping a table's header
// line and its separator line together.
func units(text string) []string {
	if text == "" {
		return nil
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	lines := strings.SplitAfter(text, "\n")
	lines = lines[:len(lines)-1] // SplitAfter leaves "" after the last "\n"
	var out []string
	for i := 0; i < len(lines); i++ {
		if i+1 < len(lines) && isTableRow(lines[i]) && tableSepRE.MatchString(strings.TrimSuffix(lines[i+1], "\n")) {
			out = append(out, lines[i]+lines[i+1])
			i++
			continue
		}
		out = append(out, lines[i])
	}
	return out
}

func isTableRow(line string) bool { return strings.HasPrefix(strings.TrimLeft(line, " "), "|") }

// advance returns the blocks open after unit u, given those open before it.
func advance(stack []block, u string) []block {
	stack = append([]block(nil), stack...)
	top := func() *block {
		if len(stack) == 0 {
			return nil
		}
		return &stack[len(stack)-1]
	}
	line := strings.TrimSuffix(u, "\n")
	if t := top(); t != nil && t.kind == fenceBlock {
		s := strings.TrimLeft(line, " ")
		run := len(s) - len(strings.TrimLeft(s, t.fence[:1]))
		if len(line)-len(s) <= 3 && run >= len(t.fence) && strings.TrimSpace(s[run:]) == "" {
			stack = stack[:len(stack)-1]
		}
		return stack
	}
	if t := top(); t != nil && t.kind == tableBlock && !isTableRow(line) {
		stack = stack[:len(stack)-1]
	}
	if m := fenceRE.FindStringSubmatch(line); m != nil {
		return append(stack, block{kind: fenceBlock, fence: m[1], reopen: line + "\n"})
	}
	if strings.Contains(u[:len(u)-1], "\n") { // a table header and separator
		if t := top(); t == nil || t.kind != tableBlock {
			stack = append(stack, block{kind: tableBlock, reopen: u})
		}
		return stack
	}
	for _, m := range detailsRE.FindAllStringSubmatch(line, -1) {
		if m[1] == "" {
			stack = append(stack, block{kind: detailsBlock, reopen: line + "\n\n"})
			continue
		}
		for len(stack) > 0 {
			k := stack[len(stack)-1].kind
			stack = stack[:len(stack)-1]
			if k == detailsBlock {
				break
			}
		}
	}
	return stack
}

// split cuts text into chunks of at most budget bytes, closing and
// reopening the blocks open at each cut.
func split(text string, budget int) ([]string, error) {
	var (
		chunks []string
		cur    strings.Builder
		stack  []block
		fresh  = true // cur holds only reopeners
	)
	cut := func(open []block) {
		cur.WriteString(closers(open))
		chunks = append(chunks, cur.String())
		cur.Reset()
		cur.WriteString(reopeners(open))
		fresh = true
	}
	for _, u := range units(text) {
		next := advance(stack, u)
		closing := max(len(closers(next)), len(closers(stack)))
		if cur.Len()+len(u)+closing > budget && !fresh {
			cut(stack)
		}
		if cur.Len()+len(u)+closing > budget {
			// One unit larger than a part: cut it inside its lines.
			room := budget - cur.Len() - closing - 1 // the "\n" added at the cut
			if room < minBudget/2 {
				return nil, ErrTooSmall
			}
			rest := u
			for cur.Len()+len(rest)+closing > budget {
				room = budget - cur.Len() - closing - 1
				i := room
				for i > 0 && !utf8.RuneStart(rest[i]) {
					i--
				}
				if j := strings.LastIndexByte(rest[:i], '\n'); j >= 0 {
					i = j + 1 // prefer a line boundary inside the unit
				}
				piece := rest[:i]
				if !strings.HasSuffix(piece, "\n") {
					piece += "\n"
				}
				cur.WriteString(piece)
				rest = rest[i:]
				cut(stack)
			}
			u = rest
		}
		cur.WriteString(u)
		fresh = false
		stack = next
	}
	if !fresh || len(chunks) == 0 {
		chunks = append(chunks, cur.String())
	}
	return chunks, nil
}
