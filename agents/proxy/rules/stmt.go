package rules

import (
	"fmt"
	"net/netip"
)

// Stmt is one statement of a rule: a match, or an action. The nft package
// renders each kind into netlink expressions; String is its nft syntax.
type Stmt interface {
	String() string
}

// Field is a packet field a match reads.
type Field int

// The fields rules match on.
const (
	SrcAddr Field = iota + 1
	DstAddr
)

func (f Field) String() string {
	if f == SrcAddr {
		return "ip saddr"
	}
	return "ip daddr"
}

// KeyKind is the key a set lookup builds from the packet.
type KeyKind int

// The lookup keys.
const (
	// KeyDstAddrProtoPort is ip daddr . meta l4proto . th dport.
	KeyDstAddrProtoPort KeyKind = iota + 1
	// KeyProtoPort is meta l4proto . th dport.
	KeyProtoPort
	// KeyDstAddr is ip daddr.
	KeyDstAddr
	// KeySrcAddr is ip saddr.
	KeySrcAddr
	// KeySrcDstAddr is ip saddr . ip daddr.
	KeySrcDstAddr
)

func (k KeyKind) String() string {
	return [...]string{"?", "ip daddr . meta l4proto . th dport", "meta l4proto . th dport", "ip daddr", "ip saddr", "ip saddr . ip daddr"}[k]
}

// MatchPrefix matches a field against a prefix (or its complement).
type MatchPrefix struct {
	Field  Field
	Prefix netip.Prefix
	Not    bool
}

func (m MatchPrefix) String() string {
	op := ""
	if m.Not {
		op = "!= "
	}
	return fmt.Sprintf("%s %s%s", m.Field, op, m.Prefix)
}

// MatchSet matches when the key is in the named set.
type MatchSet struct {
	Key KeyKind
	Set string
}

func (m MatchSet) String() string { return fmt.Sprintf("%s @%s", m.Key, m.Set) }

// MatchNewConn matches the first packet of a connection (ct state new).
type MatchNewConn struct{}

func (MatchNewConn) String() string { return "ct state new" }

// MatchMark matches packets whose mark has none (Set false) or all (Set
// true) of Bits.
type MatchMark struct {
	Bits uint32
	Set  bool
}

func (m MatchMark) String() string {
	if m.Set {
		return fmt.Sprintf("meta mark & %#x == %#x", m.Bits, m.Bits)
	}
	return fmt.Sprintf("meta mark & %#x == 0", m.Bits)
}

// OrMark sets Bits in the packet's mark.
type OrMark struct{ Bits uint32 }

func (o OrMark) String() string { return fmt.Sprintf("meta mark set meta mark | %#x", o.Bits) }

// ClearMark clears Bits from the packet's mark.
type ClearMark struct{ Bits uint32 }

func (c ClearMark) String() string { return fmt.Sprintf("meta mark set meta mark & %#x", ^c.Bits) }

// Vmap looks the key up in a verdict map and takes its verdict.
type Vmap struct {
	Key KeyKind
	Map string
}

func (v Vmap) String() string { return fmt.Sprintf("%s vmap @%s", v.Key, v.Map) }

// UpdateSet adds (or refreshes) the packet's key in a dynamic set.
type UpdateSet struct {
	Key KeyKind
	Set string
}

func (u UpdateSet) String() string { return fmt.Sprintf("update @%s { %s }", u.Set, u.Key) }

// DNAT rewrites the destination to To.
type DNAT struct{ To netip.AddrPort }

func (d DNAT) String() string { return "dnat to " + d.To.String() }

// Random matches with probability 1/N (numgen random mod N == 0). A
// service chain picks among N endpoints with N-1 such rules, with N, N-1,
// ..., 2 (each endpoint then gets 1/N), and the last endpoint unconditioned.
//
// Why not kube-proxy's one rule "numgen random mod N vmap { ... }": each
// such map is a set of its own, and the kernel's loop check for every
// verdict element walks all the table's sets, so 10,000 services took 9 s
// to load; one shared map of all endpoints instead is bound by every
// service rule, and each element insertion revalidates every binding
// (17 s). Rules with immediates bind nothing: 10,000 services load in
// about a second, and a packet evaluates at most its own service's rules.
type Random struct{ N int }

func (r Random) String() string { return fmt.Sprintf("numgen random mod %d == 0", r.N) }

// Verdict kinds.
const (
	Jump       = "jump"
	Goto       = "goto"
	Return     = "return"
	Drop       = "drop"
	Reject     = "reject"
	Masquerade = "masquerade fully-random"
)

// Verdict ends the rule: Kind is one of the verdict constants, Chain the
// target of a jump or goto.
type Verdict struct {
	Kind  string
	Chain string
}

func (v Verdict) String() string {
	if v.Chain != "" {
		return v.Kind + " " + v.Chain
	}
	return v.Kind
}
