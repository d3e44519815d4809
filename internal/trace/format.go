package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kilnbuild/kiln/internal/lineage"
)

// Formats a trace can be written in.
var Formats = []string{"tree", "table", "json", "dot"}

// Write renders r in format (tree, table, json or dot).
func Write(w io.Writer, r *Result, format string) error {
	switch format {
	case "", "tree":
		return writeTree(w, r)
	case "table":
		return writeTable(w, r)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "dot":
		return writeDot(w, r)
	}
	return fmt.Errorf("unknown output format %q: use %s", format, strings.Join(Formats, ", "))
}

// children maps a node ID to the edges leading away from it in the walk's
// direction (up: to its ingredients; down: to its products).
func children(r *Result) map[string][]ResultEdge {
	out := map[string][]ResultEdge{}
	for _, e := range r.Edges {
		near := e.To
		if r.Direction == "down" {
			near = e.From
		}
		out[near] = append(out[near], e)
	}
	return out
}

func nodeIndex(r *Result) map[string]*ResultNode {
	out := make(map[string]*ResultNode, len(r.Nodes))
	for i := range r.Nodes {
		out[r.Nodes[i].ID] = &r.Nodes[i]
	}
	return out
}

func describe(n *ResultNode) string {
	s := string(n.Kind) + " " + n.Label
	if n.Namespace != "" {
		s += "  [" + n.Namespace + "]"
	}
	return s
}

// trustNote says how far an edge is trusted, unverified evidence always
// spelled out.
func trustNote(e ResultEdge) string {
	var bad []string
	for _, s := range e.Sources {
		if s.Trust == lineage.TrustUnverified {
			bad = append(bad, "UNVERIFIED "+string(s.Origin)+": "+s.Reason)
		}
	}
	if e.Trust == lineage.TrustUnverified {
		return "(" + strings.Join(bad, "; ") + ")"
	}
	note := string(e.Trust)
	if len(bad) > 0 {
		note += "; also " + strings.Join(bad, "; ")
	}
	return "(" + note + ")"
}

func writeTree(w io.Writer, r *Result) error {
	kids, nodes := children(r), nodeIndex(r)
	shown := map[string]bool{}
	var b strings.Builder
	for _, root := range r.Roots {
		shown[root] = true
		b.WriteString(describe(nodes[root]) + cutNote(nodes[root]) + "\n")
		treeChildren(&b, r, root, "", kids, nodes, shown)
	}
	footer(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

func treeChildren(b *strings.Builder, r *Result, id, indent string, kids map[string][]ResultEdge, nodes map[string]*ResultNode, shown map[string]bool) {
	edges := kids[id]
	for i, e := range edges {
		far := e.From
		if r.Direction == "down" {
			far = e.To
		}
		branch, next := "├── ", "│   "
		if i == len(edges)-1 {
			branch, next = "└── ", "    "
		}
		line := indent + branch + string(e.Kind) + " " + trustNote(e) + " " + describe(nodes[far])
		if shown[far] {
			b.WriteString(line + "  (see above)\n")
			continue
		}
		shown[far] = true
		b.WriteString(line + cutNote(nodes[far]) + "\n")
		treeChildren(b, r, far, indent+next, kids, nodes, shown)
	}
}

// cutNote marks a node where the walk met unreadable namespaces.
func cutNote(n *ResultNode) string {
	if n.Cut == 0 {
		return ""
	}
	return "  (cut here: " + plural(n.Cut, "node") + " in namespaces you cannot read)"
}

func footer(b *strings.Builder, r *Result) {
	if len(r.Roots) == 0 {
		b.WriteString("(nothing you can read)\n")
	}
	if r.Cut > 0 {
		fmt.Fprintf(b, "cut: %s in namespaces you cannot read\n", plural(r.Cut, "node"))
	}
	if r.Truncated {
		fmt.Fprintf(b, "truncated: the trace stopped at %s (--limit)\n", plural(r.Limit, "node"))
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func writeTable(w io.Writer, r *Result) error {
	via := map[string][]string{}
	for _, e := range r.Edges {
		far, near := e.From, e.To
		if r.Direction == "down" {
			far, near = e.To, e.From
		}
		via[far] = append(via[far], string(e.Kind)+"←"+near+" "+trustNote(e))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDEPTH\tKIND\tNAMESPACE\tNODE\tVIA")
	for _, n := range r.Nodes {
		v := via[n.ID]
		slices.Sort(v)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", n.ID, n.Depth, n.Kind, n.Namespace, n.Label, strings.Join(v, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	footer(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDot(w io.Writer, r *Result) error {
	var b strings.Builder
	b.WriteString("digraph trace {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n  edge [fontsize=9];\n")
	for _, n := range r.Nodes {
		label := string(n.Kind) + "\n" + n.Label
		if n.Namespace != "" {
			label += "\n[" + n.Namespace + "]"
		}
		style := ""
		if n.Depth == 0 {
			style = ", style=bold"
		}
		fmt.Fprintf(&b, "  %s [label=%s%s];\n", n.ID, dotQuote(label), style)
	}
	for _, e := range r.Edges {
		attrs := "style=solid"
		switch e.Trust {
		case lineage.TrustRecord:
			attrs = "style=dashed"
		case lineage.TrustUnverified:
			attrs = "style=bold, color=red, fontcolor=red"
		}
		label := string(e.Kind) + " " + trustNote(e)
		fmt.Fprintf(&b, "  %s -> %s [label=%s, %s];\n", e.From, e.To, dotQuote(label), attrs)
	}
	if r.Cut > 0 || r.Truncated {
		var note strings.Builder
		footer(&note, r)
		fmt.Fprintf(&b, "  note [shape=note, label=%s];\n", dotQuote(strings.TrimSpace(note.String())))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// dotQuote quotes s as a DOT string.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
