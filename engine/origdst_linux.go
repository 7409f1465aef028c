package engine

import (
	"encoding/binary"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SO_ORIGINAL_DST (linux/netfilter_ipv4.h) and IP6T_SO_ORIGINAL_DST
// (linux/netfilter_ipv6/ip6_tables.h): the destination a connection had
// before iptables REDIRECT (or DNAT) rewrote it, from conntrack.
const (
	soOriginalDst   = 80
	ip6tOriginalDst = 80
)

// originalDst returns the destination c was addressed to before it was
// redirected here; for a connection that was not redirected (or when
// conntrack does not know it), its local address: a connection to sluice
// itself, which the session refuses as a loop.
func originalDst(c *net.TCPConn) netip.AddrPort {
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	rc, err := c.SyscallConn()
	if err != nil {
		return local
	}
	var ap netip.AddrPort
	_ = rc.Control(func(fd uintptr) {
		if local.Addr().Unmap().Is4() {
			var sa unix.RawSockaddrInet4
			n := uint32(unsafe.Sizeof(sa))
			if getsockopt(int(fd), unix.SOL_IP, soOriginalDst, unsafe.Pointer(&sa), &n) == nil {
				port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
				ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)
			}
			return
		}
		var sa unix.RawSockaddrInet6
		n := uint32(unsafe.Sizeof(sa))
		if getsockopt(int(fd), unix.SOL_IPV6, ip6tOriginalDst, unsafe.Pointer(&sa), &n) == nil {
			port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
			ap = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
		}
	})
	if !ap.IsValid() {
		return local
	}
	return ap
}

// getsockopt is getsockopt(2) into a buffer of its own length n.
func getsockopt(fd, level, name int, p unsafe.Pointer, n *uint32) error {
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(p), uintptr(unsafe.Pointer(n)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
