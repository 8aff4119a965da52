package rules

import "maps"

// Assembly is a table assembled from parts (the base and one part per
// Service) that can replace one part at a time and say what that changed,
// at a cost proportional to the part, not to the table. Chains, sets and
// elements several parts contribute (a pick chain, a shared map's key) are
// reference-counted: they go when the last part that had them does.
type Assembly struct {
	model     Model
	chainRefs map[string]int
	setRefs   map[string]int
	elemRefs  map[string]map[string]int
}

// NewAssembly returns an empty assembly.
func NewAssembly() *Assembly {
	return &Assembly{model: NewModel(), chainRefs: map[string]int{}, setRefs: map[string]int{}, elemRefs: map[string]map[string]int{}}
}

// Model is the assembled table. The caller must not change it.
func (a *Assembly) Model() Model { return a.model }

// Replace swaps part old (empty for a new part) for part new (empty for a
// removed one) and returns the plan that takes a table holding the
// assembly from before the swap to after it.
func (a *Assembly) Replace(old, new Model) Plan {
	touchedChains := map[string]bool{}
	touchedElems := map[string]map[string]bool{}
	for _, m := range []Model{old, new} {
		for name := range m.Chains {
			touchedChains[name] = true
		}
		for name, s := range m.Sets {
			if touchedElems[name] == nil {
				touchedElems[name] = map[string]bool{}
			}
			for k := range s.Elements {
				touchedElems[name][k] = true
			}
		}
	}
	before := a.slice(touchedChains, touchedElems)
	a.Swap(old, new)
	return Diff(before, a.slice(touchedChains, touchedElems))
}

// Swap is Replace without the plan, for a caller that diffs the whole
// table afterwards.
func (a *Assembly) Swap(old, new Model) {
	for name := range old.Chains {
		if a.chainRefs[name]--; a.chainRefs[name] <= 0 {
			delete(a.chainRefs, name)
			delete(a.model.Chains, name)
		}
	}
	for name, s := range old.Sets {
		set := a.model.Sets[name]
		refs := a.elemRefs[name]
		for k := range s.Elements {
			if refs[k]--; refs[k] <= 0 {
				delete(refs, k)
				delete(set.Elements, k)
			}
		}
		if a.setRefs[name]--; a.setRefs[name] <= 0 {
			delete(a.setRefs, name)
			delete(a.model.Sets, name)
			delete(a.elemRefs, name)
		}
	}
	for name, c := range new.Chains {
		a.chainRefs[name]++
		a.model.Chains[name] = c
	}
	for name, s := range new.Sets {
		a.setRefs[name]++
		set, ok := a.model.Sets[name]
		if !ok {
			set = s
			set.Elements = map[string]Element{}
			a.model.Sets[name] = set
			a.elemRefs[name] = map[string]int{}
		}
		refs := a.elemRefs[name]
		for k, e := range s.Elements {
			refs[k]++
			set.Elements[k] = e
		}
	}
}

// slice is the part of the assembly that names: the chains, and the sets
// with only the given elements.
func (a *Assembly) slice(chains map[string]bool, elems map[string]map[string]bool) Model {
	m := NewModel()
	for name := range chains {
		if c, ok := a.model.Chains[name]; ok {
			m.Chains[name] = c
		}
	}
	for name, keys := range elems {
		s, ok := a.model.Sets[name]
		if !ok {
			continue
		}
		sub := s
		sub.Elements = make(map[string]Element, len(keys))
		for k := range keys {
			if e, ok := s.Elements[k]; ok {
				sub.Elements[k] = e
			}
		}
		m.Sets[name] = sub
	}
	return m
}

// Clone returns a deep copy of the model (for a caller that keeps a
// snapshot while the assembly changes).
func (m Model) Clone() Model {
	c := Model{Chains: maps.Clone(m.Chains), Sets: make(map[string]Set, len(m.Sets))}
	for name, s := range m.Sets {
		s.Elements = maps.Clone(s.Elements)
		c.Sets[name] = s
	}
	return c
}
