package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

const iptablesScript = "iptables.sh"

func TestIptablesSyntax(t *testing.T) {
	for _, script := range []string{iptablesScript, "image.sh"} {
		if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", script, err, out)
		}
	}
}

// printRules runs `iptables.sh print` (no root needed, nothing changed).
func printRules(t *testing.T, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", iptablesScript, "print")
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return stderr.String(), err
	}
	return string(out), nil
}

// TestIptablesRules: the rules, in their order (the first match decides).
func TestIptablesRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"defaults", nil, `# IPv4: iptables-restore --noflush
*nat
:SLUICE_OUTPUT - [0:0]
-A SLUICE_OUTPUT -m owner --uid-owner 65532 -j RETURN
-A SLUICE_OUTPUT -d 127.0.0.0/8 -j RETURN
-A SLUICE_OUTPUT -p tcp --dport 9901 -m addrtype --dst-type LOCAL -j RETURN
-A SLUICE_OUTPUT -p tcp -j REDIRECT --to-ports 15001
COMMIT
# IPv6: ip6tables-restore --noflush
*nat
:SLUICE_OUTPUT - [0:0]
-A SLUICE_OUTPUT -m owner --uid-owner 65532 -j RETURN
-A SLUICE_OUTPUT -d ::1/128 -j RETURN
-A SLUICE_OUTPUT -p tcp --dport 9901 -m addrtype --dst-type LOCAL -j RETURN
-A SLUICE_OUTPUT -p tcp -j REDIRECT --to-ports 15001
COMMIT
`},
		{"settings", []string{"SLUICE_UID=sluice", "SLUICE_REDIRECT_PORT=15006", "SLUICE_ADMIN_PORT=9902",
			"SLUICE_EXCLUDE_CIDRS=10.96.0.0/12, fd00:10:96::/112", "SLUICE_EXCLUDE_PORTS=53,8000:8100"}, `# IPv4: iptables-restore --noflush
*nat
:SLUICE_OUTPUT - [0:0]
-A SLUICE_OUTPUT -m owner --uid-owner sluice -j RETURN
-A SLUICE_OUTPUT -d 127.0.0.0/8 -j RETURN
-A SLUICE_OUTPUT -p tcp --dport 9902 -m addrtype --dst-type LOCAL -j RETURN
-A SLUICE_OUTPUT -d 10.96.0.0/12 -j RETURN
-A SLUICE_OUTPUT -p tcp --dport 53 -j RETURN
-A SLUICE_OUTPUT -p tcp --dport 8000:8100 -j RETURN
-A SLUICE_OUTPUT -p tcp -j REDIRECT --to-ports 15006
COMMIT
# IPv6: ip6tables-restore --noflush
*nat
:SLUICE_OUTPUT - [0:0]
-A SLUICE_OUTPUT -m owner --uid-owner sluice -j RETURN
-A SLUICE_OUTPUT -d ::1/128 -j RETURN
-A SLUICE_OUTPUT -p tcp --dport 9902 -m addrtype --dst-type LOCAL -j RETURN
-A SLUICE_OUTPUT -d fd00:10:96::/112 -j RETURN
-A SLUICE_OUTPUT -p tcp --dport 53 -j RETURN
-A SLUICE_OUTPUT -p tcp --dport 8000:8100 -j RETURN
-A SLUICE_OUTPUT -p tcp -j REDIRECT --to-ports 15006
COMMIT
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := printRules(t, tc.env...)
			if err != nil {
				t.Fatalf("%v\n%s", err, got)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	// Settings that would inject rules, or not parse, are refused.
	for _, env := range []string{
		"SLUICE_REDIRECT_PORT=15001 -j ACCEPT", "SLUICE_ADMIN_PORT=x", "SLUICE_UID=0 -j ACCEPT",
		"SLUICE_EXCLUDE_CIDRS=0.0.0.0/0;x", "SLUICE_EXCLUDE_PORTS=http", "SLUICE_IPV6=maybe",
	} {
		if out, err := printRules(t, env); err == nil {
			t.Errorf("%s: accepted:\n%s", env, out)
		}
	}
}

// The addresses of TestIptablesRedirect's namespace, on its lo: none leaves it.
const (
	nsLocal     = "192.0.2.1"    // the "pod IP" (TEST-NET-1)
	nsExcluded  = "192.0.2.2"    // local too, in SLUICE_EXCLUDE_CIDRS
	nsRemote    = "198.51.100.7" // not local: routed to lo, reached only by redirect (TEST-NET-2)
	nsLocal6    = "2001:db8::1"  // the pod's IPv6 address (documentation prefix)
	nsTestPorts = "SLUICE_REDIRECT_PORT=15001 SLUICE_ADMIN_PORT=9901"
)

// TestIptablesRedirect installs the rules in a network namespace of its own
// and dials through them: as root, a connection to another host's address
// reaches the transparent listener, which reads the original destination
// back with SO_ORIGINAL_DST, as sluice does; loopback, the local admin port
// and excluded CIDRs are not redirected; sluice's UID (65532) goes out as it
// is. Re-running the script changes nothing; `delete` restores the table.
func TestIptablesRedirect(t *testing.T) {
	if os.Getenv("DEPLOY_IN_NETNS") == "" {
		runInNetns(t)
		return
	}
	v6 := os.Getenv("DEPLOY_NETNS_V6") == "1"
	if !v6 {
		t.Log("IPv6 not checked: no IPv6 or no ip6tables in the namespace")
	}
	pristine := natRules(t)

	// Listeners: what sluice's transparent listener and the origins would be.
	serve := func(addr string, answer func(c *net.TCPConn) string) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen %s: %v", addr, err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintln(c, answer(c.(*net.TCPConn)))
				c.Close()
			}
		}()
	}
	transparent := func(c *net.TCPConn) string {
		dst, err := originalDst(c)
		if err != nil {
			return "transparent, no original destination: " + err.Error()
		}
		t.Logf("redirected: from %s, original destination %s", c.RemoteAddr(), dst)
		return "transparent " + dst.String()
	}
	text := func(s string) func(*net.TCPConn) string { return func(*net.TCPConn) string { return s } }
	serve("127.0.0.1:15001", transparent)
	serve(nsLocal+":80", text("origin"))
	serve(nsExcluded+":80", text("origin"))
	serve(nsLocal+":9901", text("admin"))
	serve("127.0.0.1:8080", text("loopback"))
	if v6 {
		serve("[::1]:15001", transparent)
		serve("["+nsLocal6+"]:80", text("origin"))
	}

	install := func() {
		t.Helper()
		cmd := exec.Command("bash", iptablesScript)
		cmd.Env = append(os.Environ(), strings.Fields(nsTestPorts)...)
		cmd.Env = append(cmd.Env, "SLUICE_EXCLUDE_CIDRS="+nsExcluded+"/32")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("iptables.sh: %v\n%s", err, out)
		}
	}
	install()
	installed := natRules(t)
	install()
	if again := natRules(t); again != installed {
		t.Errorf("a second run changed the rules:\n%s\nthen\n%s", installed, again)
	}
	t.Logf("installed:\n%s", installed)

	type dial struct {
		uid  int
		addr string
		want string
	}
	dials := []dial{
		{0, nsLocal + ":80", "transparent " + nsLocal + ":80"},
		{0, nsRemote + ":80", "transparent " + nsRemote + ":80"},
		{0, nsRemote + ":9901", "transparent " + nsRemote + ":9901"}, // the admin port elsewhere is egress like any
		{0, nsLocal + ":9901", "admin"},
		{0, "127.0.0.1:8080", "loopback"},
		{0, nsExcluded + ":80", "origin"},
		{sluiceUID, nsLocal + ":80", "origin"},
	}
	if v6 {
		dials = append(dials,
			dial{0, "[" + nsLocal6 + "]:80", "transparent [" + nsLocal6 + "]:80"},
			dial{sluiceUID, "[" + nsLocal6 + "]:80", "origin"},
		)
	}
	for _, d := range dials {
		if got := dialAs(t, d.uid, d.addr); got != d.want {
			t.Errorf("UID %d -> %s: reached %q, want %q", d.uid, d.addr, got, d.want)
		}
	}

	cmd := exec.Command("bash", iptablesScript, "delete")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("iptables.sh delete: %v\n%s", err, out)
	}
	if after := natRules(t); after != pristine {
		t.Errorf("after delete:\n%s\nwant, as before:\n%s", after, pristine)
	}
	if got := dialAs(t, 0, nsLocal+":80"); got != "origin" {
		t.Errorf("after delete, %s:80 reached %q, want origin", nsLocal, got)
	}
}

// natRules lists the nat table, IPv4 and IPv6.
func natRules(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, ipt := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(ipt, "-t", "nat", "-S").CombinedOutput()
		if err != nil && ipt == "iptables" {
			t.Fatalf("%s -t nat -S: %v\n%s", ipt, err, out)
		}
		b.Write(out)
	}
	return b.String()
}

// dialAs connects to addr as uid (bash's /dev/tcp, in a process of that
// user) and returns the line the listener answered.
func dialAs(t *testing.T, uid int, addr string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", `exec 3<>"/dev/tcp/$0/$1" && head -n 1 <&3`, host, port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("error: %v: %s", err, bytes.TrimSpace(out))
	}
	return string(bytes.TrimSpace(out))
}

// originalDst is the destination a redirected connection was made to:
// getsockopt SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6), both 80.
func originalDst(c *net.TCPConn) (netip.AddrPort, error) {
	const soOriginalDst = 80
	raw, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	v6 := c.LocalAddr().(*net.TCPAddr).IP.To4() == nil
	var sa [28]byte // sockaddr_in6, the larger of the two
	var ap netip.AddrPort
	var serr error
	err = raw.Control(func(fd uintptr) {
		level := syscall.SOL_IP
		if v6 {
			level = syscall.SOL_IPV6
		}
		size := uint32(len(sa))
		_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, uintptr(level), soOriginalDst,
			uintptr(unsafe.Pointer(&sa[0])), uintptr(unsafe.Pointer(&size)), 0)
		if errno != 0 {
			serr = errno
			return
		}
		port := binary.BigEndian.Uint16(sa[2:4])
		if v6 {
			ap = netip.AddrPortFrom(netip.AddrFrom16([16]byte(sa[8:24])), port)
		} else {
			ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte(sa[4:8])), port)
		}
	})
	if err == nil {
		err = serr
	}
	return ap, err
}

// runInNetns runs the calling test again, with env added, in a new network
// namespace (unshare -n) with lo up and the test's addresses on it.
func runInNetns(t *testing.T, env ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: a network namespace, netfilter rules, another UID")
	}
	for _, tool := range []string{"unshare", "ip", "iptables", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install iptables iproute2 util-linux)", tool)
		}
	}
	setup := `set -e
ip link set lo up
ip addr add ` + nsLocal + `/32 dev lo
ip addr add ` + nsExcluded + `/32 dev lo
ip route add ` + nsRemote + `/32 dev lo
iptables -t nat -S >/dev/null || { echo "no netfilter nat table here"; exit 1; }
v6=0
if [ -e /proc/net/if_inet6 ] && command -v ip6tables >/dev/null && ip6tables -t nat -S >/dev/null 2>&1 &&
	ip -6 addr add ` + nsLocal6 + `/128 dev lo 2>/dev/null; then v6=1; fi
export DEPLOY_NETNS_V6=$v6
exec "$@"`
	cmd := exec.Command("unshare", "-n", "sh", "-c", setup, "sh", os.Args[0],
		"-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "DEPLOY_IN_NETNS=1")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if bytes.Contains(out, []byte("unshare failed")) || bytes.Contains(out, []byte("Operation not permitted")) ||
		bytes.Contains(out, []byte("no netfilter nat table here")) {
		t.Skipf("the kernel refuses a network namespace or netfilter here:\n%s", out)
	}
	if err != nil {
		t.Fatalf("in the namespace: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the test did not pass in the namespace:\n%s", out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		t.Log(sc.Text())
	}
}
