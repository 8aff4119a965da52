// Package rules turns Services and EndpointSlices into the nftables model the
// proxy wants programmed, and compares two models to plan the smallest change
// between them. It does no I/O: the nft package renders a Plan into a netlink
// transaction, and lists the kernel's table back into a Model for a resync.
//
// The design follows kube-proxy's nftables mode: one verdict-map lookup per
// packet (ip daddr . meta l4proto . th dport) whatever the number of
// services, one chain per service port, and shared maps whose elements are
// added and removed one by one.
package rules

import (
	"encoding/hex"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"
)

// Model is a whole table (or the part of it one Service contributes): its
// chains by name and its sets and maps by name.
type Model struct {
	Chains map[string]Chain
	Sets   map[string]Set
}

// NewModel returns an empty Model.
func NewModel() Model {
	return Model{Chains: map[string]Chain{}, Sets: map[string]Set{}}
}

// Chain is one nftables chain. Hook is nil for a regular chain (reached by
// jump, goto or a verdict map).
type Chain struct {
	Name  string
	Hook  *Hook
	Rules []Rule
}

// Hook attaches a base chain to a netfilter hook.
type Hook struct {
	// Type is "nat" or "filter".
	Type string
	// Hook is "prerouting", "input", "forward", "output" or "postrouting".
	Hook string
	// Priority orders chains on the same hook (dstnat is -100, srcnat 100).
	Priority int
}

// Rule is one rule: statements evaluated left to right. ID identifies its
// content; the proxy stores it in the rule's comment, so that rules listed
// back from the kernel compare with desired ones without decoding them.
type Rule struct {
	ID    string
	Stmts []Stmt
}

// NewRule returns a rule of the statements with its ID computed.
func NewRule(stmts ...Stmt) Rule {
	h := fnv.New64a()
	for _, s := range stmts {
		_, _ = h.Write([]byte(s.String()))
		_, _ = h.Write([]byte{0})
	}
	return Rule{ID: hex.EncodeToString(h.Sum(nil)), Stmts: stmts}
}

// String renders the rule roughly as `nft list` would (for tests and logs).
func (r Rule) String() string {
	parts := make([]string, len(r.Stmts))
	for i, s := range r.Stmts {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

// SetKind says what a set holds: its key type, whether it is a verdict map,
// and who manages its elements.
type SetKind int

// The set kinds the proxy uses.
const (
	// ServiceMap maps ip . l4proto . port to a verdict.
	ServiceMap SetKind = iota + 1
	// PortMap maps l4proto . port to a verdict.
	PortMap
	// AddrSet holds IPv4 addresses.
	AddrSet
	// AddrPairSet holds ip . ip pairs.
	AddrPairSet
	// ClusterEndpointMap maps ip . l4proto . port . index to ip . port: the
	// endpoints of the services with a given count (see PickFromMap).
	ClusterEndpointMap
	// NodePortEndpointMap maps l4proto . nodeport . index to ip . port.
	NodePortEndpointMap
	// AffinitySet holds client addresses with a timeout; the packet path adds
	// and refreshes them (flags dynamic, timeout), so the proxy never manages
	// its elements.
	AffinitySet
)

// Set is a named set or map with its elements by key.
type Set struct {
	Name string
	Kind SetKind
	// Timeout is the element timeout of an AffinitySet.
	Timeout time.Duration
	// Shared sets exist in the base model; a Service's model only
	// contributes elements to them, so a diff never deletes one.
	Shared   bool
	Elements map[string]Element
}

// Element is one set element. Key is the key's bytes as the kernel stores it
// (each part of a concatenation padded to 4 bytes). Chain is the goto target
// of a verdict map element, Data the ip . port value of an endpoint map
// element; both empty in a plain set.
type Element struct {
	Key   string
	Chain string
	Data  string
}

// Plan is the ordered change from one model to another. Apply it in the
// order of its fields: new chains and sets first, so that rules and elements
// can refer to them, and deleted chains and sets last, once nothing refers to
// them.
type Plan struct {
	AddChains      []Chain
	AddSets        []Set
	DeleteElements map[string][]Element
	// ReplaceChains are flushed and refilled.
	ReplaceChains []Chain
	AddElements   map[string][]Element
	DeleteChains  []string
	DeleteSets    []string
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.AddChains) == 0 && len(p.AddSets) == 0 && len(p.DeleteElements) == 0 &&
		len(p.ReplaceChains) == 0 && len(p.AddElements) == 0 && len(p.DeleteChains) == 0 && len(p.DeleteSets) == 0
}

// Diff plans the change from observed (what is programmed) to desired. Chains
// compare by their rules' IDs, sets by kind and timeout, elements by key and
// target. A chain whose hook changed, or a set whose kind or timeout changed,
// is deleted and created again. Elements of affinity sets are left alone.
// Chain names come sorted; elements in no particular order.
func Diff(observed, desired Model) Plan {
	p := Plan{DeleteElements: map[string][]Element{}, AddElements: map[string][]Element{}}
	for name, want := range desired.Chains {
		have, ok := observed.Chains[name]
		switch {
		case !ok:
			p.AddChains = append(p.AddChains, want)
		case !sameHook(have.Hook, want.Hook):
			p.DeleteChains = append(p.DeleteChains, name)
			p.AddChains = append(p.AddChains, want)
		case !sameRules(have.Rules, want.Rules):
			p.ReplaceChains = append(p.ReplaceChains, want)
		}
	}
	for name := range observed.Chains {
		if _, ok := desired.Chains[name]; !ok {
			p.DeleteChains = append(p.DeleteChains, name)
		}
	}
	byName := func(a, b Chain) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(p.AddChains, byName)
	slices.SortFunc(p.ReplaceChains, byName)
	slices.Sort(p.DeleteChains)
	for _, name := range sortedKeys(desired.Sets) {
		want := desired.Sets[name]
		have, ok := observed.Sets[name]
		if ok && (have.Kind != want.Kind || have.Timeout != want.Timeout) && !(have.Shared && want.Shared) {
			p.DeleteSets = append(p.DeleteSets, name)
			ok = false
		}
		if !ok {
			p.AddSets = append(p.AddSets, withoutElements(want))
			have = Set{}
		}
		if want.Kind == AffinitySet {
			continue
		}
		del, add := diffElements(have.Elements, want.Elements)
		if len(del) > 0 {
			p.DeleteElements[name] = del
		}
		if len(add) > 0 {
			p.AddElements[name] = add
		}
	}
	for _, name := range sortedKeys(observed.Sets) {
		have := observed.Sets[name]
		if _, ok := desired.Sets[name]; ok {
			continue
		}
		if have.Shared {
			// A Service's model no longer contributes to a base set: its
			// elements go, the set stays.
			if del, _ := diffElements(have.Elements, nil); len(del) > 0 {
				p.DeleteElements[name] = del
			}
			continue
		}
		p.DeleteSets = append(p.DeleteSets, name)
	}
	return p
}

func diffElements(have, want map[string]Element) (del, add []Element) {
	// Unsorted: the maps can hold 100,000s of elements, and the kernel
	// takes them in any order.
	for k, h := range have {
		if w, ok := want[k]; !ok || w != h {
			del = append(del, h)
		}
	}
	for k, w := range want {
		if h, ok := have[k]; !ok || h != w {
			add = append(add, w)
		}
	}
	return del, add
}

func withoutElements(s Set) Set {
	s.Elements = nil
	return s
}

func sameHook(a, b *Hook) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func sameRules(a, b []Rule) bool {
	return slices.EqualFunc(a, b, func(x, y Rule) bool { return x.ID == y.ID })
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Merge adds every chain, set and element of part to m (the base model plus
// each Service's part make the table). A shared set's elements are added to
// the set of the same name; a key two parts both contribute keeps the first.
func (m Model) Merge(part Model) {
	for name, c := range part.Chains {
		m.Chains[name] = c
	}
	for name, s := range part.Sets {
		base, ok := m.Sets[name]
		if !ok {
			// A copy: later parts add their elements to it, and part is
			// kept (the proxy caches each Service's part).
			s.Elements = maps.Clone(s.Elements)
			m.Sets[name] = s
			continue
		}
		if base.Elements == nil {
			base.Elements = map[string]Element{}
			m.Sets[name] = base
		}
		for k, e := range s.Elements {
			if _, dup := base.Elements[k]; !dup {
				base.Elements[k] = e
			}
		}
	}
}

// Counts returns the number of rules and of set elements in the model.
func (m Model) Counts() (rules, elements int) {
	for _, c := range m.Chains {
		rules += len(c.Rules)
	}
	for _, s := range m.Sets {
		elements += len(s.Elements)
	}
	return rules, elements
}
