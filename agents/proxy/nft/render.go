package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/berth-io/berth/agents/proxy/rules"
)

// Registers: nft's 16-byte register 1 is the 4-byte registers 8 to 11, so a
// concatenated key loads its parts into 1, 9, 10.
const (
	reg1   = 1
	reg32b = 9
	reg32c = 10
)

// renderer turns rule statements into expressions, adding the anonymous
// maps some of them need to the connection's batch.
type renderer struct {
	conn  *nftables.Conn
	table *nftables.Table
}

func (r renderer) rule(chain string, rule rules.Rule) (*nftables.Rule, error) {
	var exprs []expr.Any
	for _, s := range rule.Stmts {
		e, err := r.stmt(s)
		if err != nil {
			return nil, fmt.Errorf("chain %s, rule %q: %w", chain, rule.String(), err)
		}
		exprs = append(exprs, e...)
	}
	return &nftables.Rule{Table: r.table, Chain: &nftables.Chain{Name: chain, Table: r.table}, Exprs: exprs, UserData: ruleComment(rule.ID)}, nil
}

func (r renderer) stmt(s rules.Stmt) ([]expr.Any, error) {
	switch s := s.(type) {
	case rules.MatchPrefix:
		if !s.Prefix.Addr().Is4() {
			return nil, fmt.Errorf("prefix %s is not IPv4", s.Prefix)
		}
		p := s.Prefix.Masked()
		addr := p.Addr().As4()
		out := []expr.Any{addrPayload(s.Field == rules.SrcAddr, reg1)}
		if p.Bits() < 32 {
			mask := uint32(0xffffffff) << (32 - p.Bits())
			out = append(out, &expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.BigEndian.PutUint32(mask), Xor: []byte{0, 0, 0, 0}})
		}
		op := expr.CmpOpEq
		if s.Not {
			op = expr.CmpOpNeq
		}
		return append(out, &expr.Cmp{Op: op, Register: reg1, Data: addr[:]}), nil
	case rules.MatchPort:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{s.Proto}},
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(s.Port)},
		}, nil
	case rules.MatchSet:
		k, err := loadKey(s.Key)
		if err != nil {
			return nil, err
		}
		return append(k, &expr.Lookup{SourceRegister: reg1, SetName: s.Set}), nil
	case rules.MatchNewConn:
		return []expr.Any{
			&expr.Ct{Register: reg1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: []byte{0, 0, 0, 0}},
		}, nil
	case rules.MatchMark:
		want := uint32(0)
		if s.Set {
			want = s.Bits
		}
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(s.Bits), Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(want)},
		}, nil
	case rules.OrMark:
		return setMark(^s.Bits, s.Bits), nil
	case rules.ClearMark:
		return setMark(^s.Bits, 0), nil
	case rules.Vmap:
		k, err := loadKey(s.Key)
		if err != nil {
			return nil, err
		}
		return append(k, &expr.Lookup{SourceRegister: reg1, SetName: s.Map, IsDestRegSet: true, DestRegister: 0}), nil
	case rules.UpdateSet:
		k, err := loadKey(s.Key)
		if err != nil {
			return nil, err
		}
		return append(k, &expr.Dynset{SrcRegKey: reg1, SetName: s.Set, Operation: unix.NFT_DYNSET_OP_UPDATE}), nil
	case rules.DNAT:
		a := s.To.Addr().As4()
		return []expr.Any{
			&expr.Immediate{Register: reg1, Data: a[:]},
			&expr.Immediate{Register: reg32b, Data: binaryutil.BigEndian.PutUint16(s.To.Port())},
			dnatFromRegs(),
		}, nil
	case rules.PickFromMap:
		k, err := loadKey(s.Key)
		if err != nil {
			return nil, err
		}
		// numgen fills the register after the key's last part.
		next := uint32(reg32b + len(k) - 1)
		return append(k,
			&expr.Numgen{Register: next, Modulus: uint32(s.N), Type: unix.NFT_NG_RANDOM},
			&expr.Lookup{SourceRegister: reg1, SetName: s.Map, IsDestRegSet: true, DestRegister: reg1},
			dnatFromRegs()), nil
	case rules.Random:
		return []expr.Any{
			&expr.Numgen{Register: reg1, Modulus: uint32(s.N), Type: unix.NFT_NG_RANDOM},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{0, 0, 0, 0}},
		}, nil
	case rules.Verdict:
		switch s.Kind {
		case rules.Jump:
			return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: s.Chain}}, nil
		case rules.Goto:
			return []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: s.Chain}}, nil
		case rules.Return:
			return []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}}, nil
		case rules.Drop:
			return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}, nil
		case rules.Reject:
			// ICMP port unreachable: a TCP client's connect fails at once
			// with "connection refused", a UDP client's next read too.
			return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}}, nil
		case rules.Masquerade:
			return []expr.Any{&expr.Masq{FullyRandom: true}}, nil
		}
	}
	return nil, fmt.Errorf("no rendering for statement %T %q", s, s.String())
}

// dnatFromRegs rewrites the destination to the address in register 1 and
// the port in register 9.
func dnatFromRegs() *expr.NAT {
	return &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegProtoMin: reg32b, Specified: true}
}

func setMark(mask, xor uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: binaryutil.NativeEndian.PutUint32(xor)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1},
	}
}

func addrPayload(src bool, reg uint32) *expr.Payload {
	off := uint32(16)
	if src {
		off = 12
	}
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}
}

func loadKey(k rules.KeyKind) ([]expr.Any, error) {
	l4proto := func(reg uint32) expr.Any { return &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg} }
	dport := func(reg uint32) expr.Any {
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
	}
	switch k {
	case rules.KeyDstAddrProtoPort:
		return []expr.Any{addrPayload(false, reg1), l4proto(reg32b), dport(reg32c)}, nil
	case rules.KeyProtoPort:
		return []expr.Any{l4proto(reg1), dport(reg32b)}, nil
	case rules.KeyDstAddr:
		return []expr.Any{addrPayload(false, reg1)}, nil
	case rules.KeySrcAddr:
		return []expr.Any{addrPayload(true, reg1)}, nil
	case rules.KeySrcDstAddr:
		return []expr.Any{addrPayload(true, reg1), addrPayload(false, reg32b)}, nil
	}
	return nil, fmt.Errorf("no rendering for key %d", k)
}

// setDef is the kernel definition of a model set.
func setDef(t *nftables.Table, s rules.Set) (*nftables.Set, error) {
	d := &nftables.Set{Table: t, Name: s.Name}
	switch s.Kind {
	case rules.ServiceMap:
		d.KeyType, d.IsMap, d.DataType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService), true, nftables.TypeVerdict
	case rules.PortMap:
		d.KeyType, d.IsMap, d.DataType = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService), true, nftables.TypeVerdict
	case rules.AddrSet:
		d.KeyType = nftables.TypeIPAddr
	case rules.AddrPairSet:
		d.KeyType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeIPAddr)
	case rules.ClusterEndpointMap:
		d.KeyType, d.IsMap, d.DataType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService, nftables.TypeMark), true, addrPortType
	case rules.NodePortEndpointMap:
		d.KeyType, d.IsMap, d.DataType = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService, nftables.TypeMark), true, addrPortType
	case rules.AffinitySet:
		d.KeyType, d.Dynamic, d.HasTimeout, d.Timeout = nftables.TypeIPAddr, true, true, s.Timeout
	default:
		return nil, fmt.Errorf("set %s: unknown kind %d", s.Name, s.Kind)
	}
	return d, nil
}

// addrPortType is an endpoint map's value: ip . port. (The endpoint index
// in the keys is typed mark, a 4-byte host-order integer, rather than
// integer, whose length nft(8) cannot tell inside a concatenation.)
var addrPortType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)

// kindOf tells a listed set's kind from its shape.
func kindOf(s *nftables.Set) rules.SetKind {
	switch {
	case s.IsMap && s.KeyType.Bytes == 16 && !isVerdict(s):
		return rules.ClusterEndpointMap
	case s.IsMap && s.KeyType.Bytes == 12 && !isVerdict(s):
		return rules.NodePortEndpointMap
	case s.IsMap && s.KeyType.Bytes == 12:
		return rules.ServiceMap
	case s.IsMap && s.KeyType.Bytes == 8:
		return rules.PortMap
	case s.IsMap:
		return 0
	case s.HasTimeout || s.Dynamic:
		return rules.AffinitySet
	case s.KeyType.Bytes == 4:
		return rules.AddrSet
	case s.KeyType.Bytes == 8:
		return rules.AddrPairSet
	}
	return 0
}

func isVerdict(s *nftables.Set) bool {
	return s.DataType.GetNFTMagic() == nftables.TypeVerdict.GetNFTMagic()
}

func elements(es []rules.Element) []nftables.SetElement {
	out := make([]nftables.SetElement, len(es))
	for i, e := range es {
		out[i] = nftables.SetElement{Key: []byte(e.Key), Val: []byte(e.Data)}
		if e.Chain != "" {
			out[i].VerdictData = &expr.Verdict{Kind: expr.VerdictGoto, Chain: e.Chain}
		}
	}
	return out
}
