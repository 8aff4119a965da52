package rules

import (
	"fmt"
	"net/netip"
	"strings"
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

// DNAT rewrites the destination to one of To, picked uniformly at random
// (numgen random mod len(To) map); with one target, to that target.
type DNAT struct{ To []netip.AddrPort }

func (d DNAT) String() string {
	if len(d.To) == 1 {
		return "dnat to " + d.To[0].String()
	}
	parts := make([]string, len(d.To))
	for i, t := range d.To {
		parts[i] = fmt.Sprintf("%d : %s . %d", i, t.Addr(), t.Port())
	}
	return fmt.Sprintf("dnat to numgen random mod %d map { %s }", len(d.To), strings.Join(parts, ", "))
}

// RandomGoto jumps to one of Chains, picked uniformly at random (numgen
// random mod len(Chains) vmap).
type RandomGoto struct{ Chains []string }

func (r RandomGoto) String() string {
	parts := make([]string, len(r.Chains))
	for i, c := range r.Chains {
		parts[i] = fmt.Sprintf("%d : goto %s", i, c)
	}
	return fmt.Sprintf("numgen random mod %d vmap { %s }", len(r.Chains), strings.Join(parts, ", "))
}

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
