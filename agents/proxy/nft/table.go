// Package nft programs a rules.Model into one nftables table through
// netlink (github.com/google/nftables) and lists it back. Each Apply is one
// atomic transaction; nothing outside the table is touched.
package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-io/berth/agents/proxy/rules"
)

// Table is one IPv4 nftables table the proxy owns.
type Table struct {
	name  string
	tr    *transport
	conn  *nftables.Conn
	table *nftables.Table
}

// Open returns the table name in the network namespace of netnsFd (0: the
// caller's). It creates nothing until the first Apply.
func Open(name string, netnsFd int) (*Table, error) {
	tr, err := dialTransport(netnsFd)
	if err != nil {
		return nil, err
	}
	conn, err := nftables.New(nftables.WithTestDial(tr.exchange))
	if err != nil {
		_ = tr.nl.Close()
		return nil, err
	}
	return &Table{name: name, tr: tr, conn: conn, table: &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}}, nil
}

// Name is the table's name.
func (t *Table) Name() string { return t.name }

// Close releases the netlink socket; the table stays programmed.
func (t *Table) Close() error { return t.tr.nl.Close() }

// Apply programs the plans, in order, in one transaction. Nothing is sent
// when all are empty.
func (t *Table) Apply(plans ...rules.Plan) error {
	if !slices.ContainsFunc(plans, func(p rules.Plan) bool { return !p.Empty() }) {
		return nil
	}
	t.conn.AddTable(t.table)
	for _, p := range plans {
		if err := t.add(p); err != nil {
			return err
		}
	}
	t.tr.err, t.tr.stats = nil, ApplyStats{}
	if err := t.conn.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", t.name, err)
	}
	if t.tr.err != nil {
		return fmt.Errorf("nftables table %s: transaction refused, nothing changed: %w", t.name, t.tr.err)
	}
	return nil
}

// add queues one plan: new chains and sets, element deletions, element
// additions, chain contents, then deletions of chains and sets nothing
// refers to any more.
func (t *Table) add(p rules.Plan) error {
	c := t.conn
	chain := func(name string) *nftables.Chain { return &nftables.Chain{Name: name, Table: t.table} }
	recreated := map[string]bool{}
	for _, ch := range p.AddChains {
		if slices.Contains(p.DeleteChains, ch.Name) {
			recreated[ch.Name] = true
			c.FlushChain(chain(ch.Name))
			c.DelChain(chain(ch.Name))
		}
	}
	for _, ch := range p.AddChains {
		def, err := chainDef(t.table, ch)
		if err != nil {
			return err
		}
		c.AddChain(def)
	}
	for _, s := range p.AddSets {
		def, err := setDef(t.table, s)
		if err != nil {
			return err
		}
		if slices.Contains(p.DeleteSets, s.Name) {
			c.DelSet(def)
		}
		if err := c.AddSet(def, nil); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
	}
	for _, name := range sortedKeys(p.DeleteElements) {
		for _, chunk := range chunks(p.DeleteElements[name]) {
			if err := c.SetDeleteElements(&nftables.Set{Table: t.table, Name: name}, elements(chunk)); err != nil {
				return fmt.Errorf("set %s: %w", name, err)
			}
		}
	}
	// Elements before rules: a verdict element's loop check walks the
	// table's sets, and each rule below may add an anonymous one.
	for _, name := range sortedKeys(p.AddElements) {
		for _, chunk := range chunks(p.AddElements[name]) {
			if err := c.SetAddElements(&nftables.Set{Table: t.table, Name: name}, elements(chunk)); err != nil {
				return fmt.Errorf("set %s: %w", name, err)
			}
		}
	}
	r := renderer{conn: c, table: t.table}
	fill := func(ch rules.Chain) error {
		for _, rule := range ch.Rules {
			nr, err := r.rule(ch.Name, rule)
			if err != nil {
				return err
			}
			c.AddRule(nr)
		}
		return nil
	}
	for _, ch := range p.ReplaceChains {
		c.FlushChain(chain(ch.Name))
		if err := fill(ch); err != nil {
			return err
		}
	}
	for _, ch := range p.AddChains {
		if err := fill(ch); err != nil {
			return err
		}
	}
	// Flush every chain first: a chain being deleted may jump to another
	// one being deleted.
	var deleting []string
	for _, name := range p.DeleteChains {
		if !recreated[name] {
			deleting = append(deleting, name)
			c.FlushChain(chain(name))
		}
	}
	for _, name := range deleting {
		c.DelChain(chain(name))
	}
	for _, name := range p.DeleteSets {
		if !slices.ContainsFunc(p.AddSets, func(s rules.Set) bool { return s.Name == name }) {
			c.DelSet(&nftables.Set{Table: t.table, Name: name})
		}
	}
	return nil
}

// LastApply describes the last transaction Apply or Delete sent.
func (t *Table) LastApply() ApplyStats { return t.tr.stats }

// Exists reports whether the table is in the kernel.
func (t *Table) Exists() (bool, error) {
	tables, err := t.conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("listing nftables tables: %w", err)
	}
	return slices.ContainsFunc(tables, func(x *nftables.Table) bool { return x.Name == t.name }), nil
}

// Delete removes the table and everything in it, if it exists.
func (t *Table) Delete() error {
	ok, err := t.Exists()
	if err != nil || !ok {
		return err
	}
	t.conn.DelTable(t.table)
	t.tr.err = nil
	if err := t.conn.Flush(); err != nil {
		return fmt.Errorf("deleting nftables table %s: %w", t.name, err)
	}
	if t.tr.err != nil {
		return fmt.Errorf("deleting nftables table %s: %w", t.name, t.tr.err)
	}
	return nil
}

// Observe lists the table from the kernel as a model: chains with their
// hooks and their rules' IDs (read from each rule's comment; a rule without
// one gets an empty ID, so it never matches a desired rule), sets with
// their elements (not an affinity set's, which the packet path manages).
// A missing table is an empty model.
func (t *Table) Observe() (rules.Model, error) {
	m := rules.NewModel()
	if ok, err := t.Exists(); err != nil || !ok {
		return m, err
	}
	chains, err := t.conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return m, fmt.Errorf("listing chains of table %s: %w", t.name, err)
	}
	for _, ch := range chains {
		if ch.Table.Name != t.name {
			continue
		}
		mc := rules.Chain{Name: ch.Name}
		if ch.Hooknum != nil && ch.Priority != nil {
			mc.Hook = &rules.Hook{Type: string(ch.Type), Hook: hookNames[*ch.Hooknum], Priority: int(*ch.Priority)}
		}
		m.Chains[ch.Name] = mc
	}
	ids, err := t.ruleIDs()
	if err != nil {
		return m, err
	}
	for name, list := range ids {
		ch := m.Chains[name]
		for _, id := range list {
			ch.Rules = append(ch.Rules, rules.Rule{ID: id})
		}
		m.Chains[name] = ch
	}
	sets, err := t.conn.GetSets(t.table)
	if err != nil {
		return m, fmt.Errorf("listing sets of table %s: %w", t.name, err)
	}
	for _, s := range sets {
		if s.Anonymous || len(s.Name) > 1 && s.Name[:2] == "__" {
			continue
		}
		ms := rules.Set{Name: s.Name, Kind: kindOf(s), Timeout: s.Timeout, Shared: rules.IsShared(s.Name), Elements: map[string]rules.Element{}}
		if ms.Kind != rules.AffinitySet {
			es, err := t.conn.GetSetElements(s)
			if err != nil {
				return m, fmt.Errorf("listing elements of set %s in table %s: %w", s.Name, t.name, err)
			}
			for _, e := range es {
				me := rules.Element{Key: string(e.Key)}
				switch {
				case ms.Kind == rules.ClusterEndpointMap || ms.Kind == rules.NodePortEndpointMap:
					me.Data = string(e.Val)
				case s.IsMap:
					me.Chain = verdictTarget(e.Val)
				}
				ms.Elements[me.Key] = me
			}
		}
		m.Sets[s.Name] = ms
	}
	return m, nil
}

// ruleIDs dumps every rule of the table in one request and returns, per
// chain, the IDs from the rules' comments in order. (The library lists the
// rules of one chain per request; at 10,000 chains one dump is far faster.)
func (t *Table) ruleIDs() (map[string][]string, error) {
	data, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_RULE_TABLE, Data: []byte(t.name + "\x00")}})
	if err != nil {
		return nil, err
	}
	req := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE), Flags: netlink.Request | netlink.Dump},
		Data:   append([]byte{unix.NFPROTO_IPV4, unix.NFNETLINK_V0, 0, 0}, data...),
	}
	msgs, err := t.tr.nl.Execute(req)
	if err != nil {
		return nil, fmt.Errorf("listing rules of table %s: %w", t.name, err)
	}
	out := map[string][]string{}
	for _, msg := range msgs {
		if len(msg.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(msg.Data[4:])
		if err != nil {
			return nil, err
		}
		var chain, id string
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_RULE_CHAIN:
				chain = ad.String()
			case unix.NFTA_RULE_USERDATA:
				id, _ = userdata.GetString(ad.Bytes(), userdata.TypeComment)
			}
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
		out[chain] = append(out[chain], id)
	}
	return out, nil
}

// verdictTarget decodes a verdict map element's data (the library hands it
// over undecoded: NFTA_VERDICT_CODE and NFTA_VERDICT_CHAIN): the chain of a
// goto, or a description of any other verdict, which never equals a chain
// the model wants.
func verdictTarget(val []byte) string {
	ad, err := netlink.NewAttributeDecoder(val)
	if err != nil {
		return "undecodable verdict"
	}
	ad.ByteOrder = binary.BigEndian
	var code int32
	var chain string
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_VERDICT_CODE:
			code = int32(ad.Uint32())
		case unix.NFTA_VERDICT_CHAIN:
			chain = ad.String()
		}
	}
	if code != int32(expr.VerdictGoto) {
		return fmt.Sprintf("verdict %d %s", code, chain)
	}
	return chain
}

var hookNums = map[string]nftables.ChainHook{
	"prerouting": unix.NF_INET_PRE_ROUTING, "input": unix.NF_INET_LOCAL_IN, "forward": unix.NF_INET_FORWARD,
	"output": unix.NF_INET_LOCAL_OUT, "postrouting": unix.NF_INET_POST_ROUTING,
}

var hookNames = map[nftables.ChainHook]string{
	unix.NF_INET_PRE_ROUTING: "prerouting", unix.NF_INET_LOCAL_IN: "input", unix.NF_INET_FORWARD: "forward",
	unix.NF_INET_LOCAL_OUT: "output", unix.NF_INET_POST_ROUTING: "postrouting",
}

func chainDef(t *nftables.Table, c rules.Chain) (*nftables.Chain, error) {
	def := &nftables.Chain{Name: c.Name, Table: t}
	if c.Hook == nil {
		return def, nil
	}
	num, ok := hookNums[c.Hook.Hook]
	if !ok {
		return nil, errors.New("chain " + c.Name + ": unknown hook " + c.Hook.Hook)
	}
	accept := nftables.ChainPolicyAccept
	def.Hooknum = nftables.ChainHookRef(num)
	def.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(c.Hook.Priority))
	def.Type = nftables.ChainType(c.Hook.Type)
	def.Policy = &accept
	return def, nil
}

// chunkElements is how many elements go in one message: a netlink
// attribute's length is 16 bits, so the element list of one message must
// stay under 64 KiB (nft splits the same way).
const chunkElements = 256

func chunks(es []rules.Element) [][]rules.Element {
	var out [][]rules.Element
	for len(es) > chunkElements {
		out = append(out, es[:chunkElements])
		es = es[chunkElements:]
	}
	return append(out, es)
}

func ruleComment(id string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, id)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
