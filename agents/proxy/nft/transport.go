package nft

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// transport carries google/nftables' messages over one netlink socket.
//
// Why not the library's own socket: its Flush asks the kernel for an
// acknowledgement and an echo of every message and reads them one receive
// call at a time. A full sync of 10,000 services is tens of thousands of
// messages; measured on a 2-core VM that took 17 s, almost all of it
// reading acknowledgements (and a big batch overflows the receive buffer).
// nft(8) itself only needs errors back. So the library still builds every
// message (through nftables.WithTestDial, its documented hook for the
// socket), and transport sends a batch with the acknowledgement and echo
// flags cleared except on the last message, reads the errors the kernel
// queued while it processed the batch, and answers the library with
// nothing. Requests that are not batches (lists and dumps) pass through.
type transport struct {
	nl *netlink.Conn
	// err is the outcome of the last batch: the library would repeat one
	// error once per message, so the Table reads it here instead.
	err error
	// stats describe the last batch.
	stats ApplyStats
}

// ApplyStats describe one transaction: how many netlink messages and bytes
// it took, and how long the kernel spent on it (the sendmsg call, in which
// the kernel checks and commits the whole batch).
type ApplyStats struct {
	Messages int
	Bytes    int
	Kernel   time.Duration
}

// bufferBytes is the socket buffer size forced on the netlink socket, big
// enough for a batch of a full sync of 10,000 services.
const bufferBytes = 512 << 20

func dialTransport(netnsFd int) (*transport, error) {
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netnsFd})
	if err != nil {
		return nil, fmt.Errorf("opening a netfilter netlink socket: %w", err)
	}
	// Errors without the request copied in (a request can be a megabyte),
	// with the kernel's explanation when it has one.
	if err := errors.Join(nl.SetOption(netlink.CapAcknowledge, true), nl.SetOption(netlink.ExtendedAcknowledge, true)); err != nil {
		_ = nl.Close()
		return nil, fmt.Errorf("setting netlink socket options: %w", err)
	}
	rc, err := nl.SyscallConn()
	if err != nil {
		_ = nl.Close()
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = errors.Join(unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, bufferBytes),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20))
	}); err != nil || serr != nil {
		_ = nl.Close()
		return nil, fmt.Errorf("sizing the netlink socket buffers (needs CAP_NET_ADMIN): %w", errors.Join(err, serr))
	}
	return &transport{nl: nl}, nil
}

// exchange is the nltest.Func the library's connections dial.
func (t *transport) exchange(req []netlink.Message) ([]netlink.Message, error) {
	if len(req) == 0 {
		// The library waiting for a further acknowledgement: none comes.
		return nil, io.EOF
	}
	if req[0].Header.Type == netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN) {
		t.err = t.batch(req)
		return nil, nil
	}
	if _, err := t.nl.SendMessages(req); err != nil {
		return nil, err
	}
	msgs, err := t.nl.Receive()
	if err != nil {
		return nil, err
	}
	last := req[len(req)-1].Header.Flags
	if last&netlink.Acknowledge != 0 && last&netlink.Dump == 0 && (len(msgs) == 0 || msgs[len(msgs)-1].Header.Type != netlink.Error) {
		if _, err := t.nl.Receive(); err != nil {
			return nil, err
		}
	}
	// Answer as the library's test socket would: its sequence and port id.
	for i := range msgs {
		msgs[i].Header.Flags &^= netlink.Multi
		msgs[i].Header.PID = req[0].Header.PID
		msgs[i].Header.Sequence = req[0].Header.Sequence
	}
	return msgs, nil
}

// batch sends one transaction and returns the kernel's errors for it.
func (t *transport) batch(req []netlink.Message) error {
	if len(req) <= 2 {
		return nil
	}
	for i := 1; i < len(req)-1; i++ {
		req[i].Header.Flags &^= netlink.Acknowledge | unix.NLM_F_ECHO
	}
	req[len(req)-2].Header.Flags |= netlink.Acknowledge
	t.stats = ApplyStats{Messages: len(req) - 2}
	for _, m := range req {
		t.stats.Bytes += 16 + len(m.Data)
	}
	start := time.Now()
	sent, err := t.nl.SendMessages(req)
	t.stats.Kernel = time.Since(start)
	if err != nil {
		return fmt.Errorf("sending an nftables transaction of %d messages: %w", len(req)-2, err)
	}
	bySeq := make(map[uint32]netlink.Message, len(sent))
	for _, m := range sent {
		bySeq[m.Header.Sequence] = m
	}
	lastSeq := sent[len(sent)-2].Header.Sequence
	rc, err := t.nl.SyscallConn()
	if err != nil {
		return err
	}
	// The kernel handled the whole batch inside sendmsg: every reply is
	// queued already, so a non-blocking drain reads them all.
	var errs []error
	buf := make([]byte, 1<<16)
	for done := false; !done; {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			return true
		}); err != nil {
			return err
		}
		if errors.Is(rerr, unix.EAGAIN) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("reading the nftables transaction's answer: %w", rerr)
		}
		msgs, perr := syscall.ParseNetlinkMessage(buf[:n])
		if perr != nil {
			return perr
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if code := int32(nativeUint32(m.Data[:4])); code != 0 {
				errs = append(errs, fmt.Errorf("%s: %w", describe(bySeq[m.Header.Seq]), unix.Errno(-code)))
			}
			if m.Header.Seq == lastSeq {
				done = true
			}
		}
	}
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Errorf("and %d more errors", len(errs)-5))
	}
	return errors.Join(errs...)
}

func nativeUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// describe names a request message for an error: its kind and the chain,
// set or table it is about.
func describe(m netlink.Message) string {
	typ := int(m.Header.Type) & 0xff
	what, ok := messageKinds[typ]
	if !ok {
		return fmt.Sprintf("nftables message type %d", typ)
	}
	if len(m.Data) < 4 {
		return what.verb
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		return what.verb
	}
	for ad.Next() {
		if ad.Type() == what.nameAttr {
			return what.verb + " " + ad.String()
		}
	}
	return what.verb
}

// messageKinds says what each request does and which attribute names its
// object.
var messageKinds = map[int]struct {
	verb     string
	nameAttr uint16
}{
	unix.NFT_MSG_NEWTABLE: {"adding table", unix.NFTA_TABLE_NAME}, unix.NFT_MSG_DELTABLE: {"deleting table", unix.NFTA_TABLE_NAME},
	unix.NFT_MSG_NEWCHAIN: {"adding chain", unix.NFTA_CHAIN_NAME}, unix.NFT_MSG_DELCHAIN: {"deleting chain", unix.NFTA_CHAIN_NAME},
	unix.NFT_MSG_NEWRULE: {"adding a rule to chain", unix.NFTA_RULE_CHAIN}, unix.NFT_MSG_DELRULE: {"deleting a rule of chain", unix.NFTA_RULE_CHAIN},
	unix.NFT_MSG_NEWSET: {"adding set", unix.NFTA_SET_NAME}, unix.NFT_MSG_DELSET: {"deleting set", unix.NFTA_SET_NAME},
	unix.NFT_MSG_NEWSETELEM: {"adding elements to set", unix.NFTA_SET_ELEM_LIST_SET}, unix.NFT_MSG_DELSETELEM: {"deleting elements of set", unix.NFTA_SET_ELEM_LIST_SET},
}
