#!/usr/bin/env bash
# iptables.sh: send this network namespace's outbound TCP through sluice.
#
#   iptables.sh          install the rules (again: they are replaced, never doubled)
#   iptables.sh delete   remove them
#   iptables.sh print    print them, as iptables-restore input, and change nothing
#
# Every new outbound TCP connection is redirected (nat OUTPUT, REDIRECT) to
# sluice's transparent listener (transparent_listen in its config), which
# reads the original destination back (SO_ORIGINAL_DST) and proxies the
# connection under its policy. Not redirected: sluice's own connections (by
# its UID: they would loop), loopback destinations, and sluice's admin port on
# this namespace's own addresses.
#
# In Kubernetes an init container runs this script in the pod's network
# namespace before sluice starts (deploy/kubernetes/sidecar.yaml); on a host,
# run it as root after sluice is up (deploy/README.md). It needs iptables
# (the nf_tables or the legacy variant), and CAP_NET_ADMIN.
#
# Settings, from the environment (defaults in brackets):
#   SLUICE_UID            user sluice runs as, a UID or a name [65532: the image's]
#   SLUICE_REDIRECT_PORT  port of sluice's transparent_listen [15001]
#   SLUICE_ADMIN_PORT     port of sluice's admin listener [9901]
#   SLUICE_EXCLUDE_CIDRS  destinations never redirected, separated by spaces or
#                         commas, e.g. a cluster's service and pod CIDRs [none]
#   SLUICE_EXCLUDE_PORTS  destination ports never redirected, likewise [none]
#   SLUICE_IPV6           on, off, or auto: IPv6 too when ip6tables is there and
#                         the kernel has IPv6 [auto]
#
# IPv6: REDIRECT sends a redirected IPv6 connection to [::1]:SLUICE_REDIRECT_PORT.
# Where sluice's transparent_listen is an IPv4 address only, such connections
# are refused: IPv6 egress then fails closed instead of going around sluice,
# and clients fall back to IPv4 (Happy Eyeballs, RFC 8305).
#
# Only TCP is redirected: UDP (DNS, QUIC) goes out as it is (deploy/README.md).
set -euo pipefail

SLUICE_UID=${SLUICE_UID:-65532}
SLUICE_REDIRECT_PORT=${SLUICE_REDIRECT_PORT:-15001}
SLUICE_ADMIN_PORT=${SLUICE_ADMIN_PORT:-9901}
SLUICE_EXCLUDE_CIDRS=${SLUICE_EXCLUDE_CIDRS:-}
SLUICE_EXCLUDE_PORTS=${SLUICE_EXCLUDE_PORTS:-}
SLUICE_IPV6=${SLUICE_IPV6:-auto}

# The rules live in a chain of their own, so they are replaced and removed as
# a whole without touching anyone else's (Docker's, kube-proxy's on a host).
CHAIN=SLUICE_OUTPUT

die() {
	echo "iptables.sh: $*" >&2
	exit 1
}

# rules FAMILY prints the nat table's rules for iptables-restore: FAMILY is 4
# or 6. Each rule is one line; they are tried in order and the first that
# matches decides.
rules() {
	local family=$1 loopback=127.0.0.0/8
	if [[ $family == 6 ]]; then
		loopback=::1/128
	fi
	echo '*nat'
	# Create the chain, or empty it if it exists (iptables-restore --noflush
	# leaves every other chain as it is): re-running the script replaces the
	# rules in one transaction, so no connection ever sees half of them.
	echo ":$CHAIN - [0:0]"
	# 1. sluice's own connections (to origins, to nameservers over TCP) go
	#    out as they are: redirecting them back to sluice would loop.
	echo "-A $CHAIN -m owner --uid-owner $SLUICE_UID -j RETURN"
	# 2. Loopback destinations: the app's own local services and sluice's
	#    listeners (a proxy-aware app talks to 127.0.0.1:3128 directly).
	echo "-A $CHAIN -d $loopback -j RETURN"
	# 3. The admin port on this namespace's own addresses: anything in the pod
	#    reaching sluice's /metrics by the pod's IP. Only local destinations:
	#    excluding the port everywhere would let the app reach any host on it
	#    around sluice. (Kubelet probes arrive from outside: they are INPUT,
	#    never OUTPUT, and need no rule.)
	echo "-A $CHAIN -p tcp --dport $SLUICE_ADMIN_PORT -m addrtype --dst-type LOCAL -j RETURN"
	# 4. Destinations and ports the operator chose to leave alone.
	local cidr port
	for cidr in ${SLUICE_EXCLUDE_CIDRS//,/ }; do
		local of=4 # each family takes its own CIDRs
		if [[ $cidr == *:* ]]; then of=6; fi
		if [[ $of == "$family" ]]; then
			echo "-A $CHAIN -d $cidr -j RETURN"
		fi
	done
	for port in ${SLUICE_EXCLUDE_PORTS//,/ }; do
		echo "-A $CHAIN -p tcp --dport $port -j RETURN"
	done
	# 5. Every other TCP connection goes to the transparent listener: for a
	#    connection made on this host REDIRECT rewrites the destination to
	#    127.0.0.1 (::1 for IPv6) and this port, and the kernel keeps the
	#    original for SO_ORIGINAL_DST.
	echo "-A $CHAIN -p tcp -j REDIRECT --to-ports $SLUICE_REDIRECT_PORT"
	echo 'COMMIT'
}

# install IPT FAMILY installs the rules with IPT (iptables or ip6tables).
install() {
	local ipt=$1 family=$2
	rules "$family" | "$ipt-restore" --noflush
	# Locally made TCP connections enter the chain from nat OUTPUT: appended
	# once (-C checks), after rules that are already there.
	if ! "$ipt" -t nat -C OUTPUT -p tcp -j "$CHAIN" 2>/dev/null; then
		"$ipt" -t nat -A OUTPUT -p tcp -j "$CHAIN"
	fi
	echo "iptables.sh: IPv$family: outbound TCP -> port $SLUICE_REDIRECT_PORT, except UID $SLUICE_UID, loopback, local port $SLUICE_ADMIN_PORT${SLUICE_EXCLUDE_CIDRS:+, $SLUICE_EXCLUDE_CIDRS}${SLUICE_EXCLUDE_PORTS:+, ports $SLUICE_EXCLUDE_PORTS}" >&2
}

# remove IPT takes the jump out of OUTPUT (every copy) and deletes the chain.
remove() {
	local ipt=$1
	while "$ipt" -t nat -D OUTPUT -p tcp -j "$CHAIN" 2>/dev/null; do :; done
	"$ipt" -t nat -F "$CHAIN" 2>/dev/null || true
	"$ipt" -t nat -X "$CHAIN" 2>/dev/null || true
}

# ipv6 says whether to handle IPv6 as well.
ipv6() {
	case $SLUICE_IPV6 in
	on) return 0 ;;
	off) return 1 ;;
	auto) command -v ip6tables >/dev/null && [[ -e /proc/net/if_inet6 ]] && ip6tables -t nat -S OUTPUT >/dev/null 2>&1 ;;
	esac
}

[[ $SLUICE_IPV6 =~ ^(on|off|auto)$ ]] || die "SLUICE_IPV6=$SLUICE_IPV6: want on, off or auto"
for v in SLUICE_REDIRECT_PORT SLUICE_ADMIN_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v}: not a port number"
done
[[ $SLUICE_UID =~ ^[A-Za-z0-9_.-]+$ ]] || die "SLUICE_UID=$SLUICE_UID: not a UID or user name"
for cidr in ${SLUICE_EXCLUDE_CIDRS//,/ }; do
	[[ $cidr =~ ^[0-9A-Fa-f.:]+(/[0-9]+)?$ ]] || die "SLUICE_EXCLUDE_CIDRS: $cidr: not an address or CIDR"
done
for port in ${SLUICE_EXCLUDE_PORTS//,/ }; do
	[[ $port =~ ^[0-9]+(:[0-9]+)?$ ]] || die "SLUICE_EXCLUDE_PORTS: $port: not a port or a range FIRST:LAST"
done

case ${1:-install} in
print)
	echo '# IPv4: iptables-restore --noflush'
	rules 4
	echo '# IPv6: ip6tables-restore --noflush'
	rules 6
	;;
install)
	command -v iptables >/dev/null || die "iptables not found"
	install iptables 4
	if ipv6; then install ip6tables 6; fi
	;;
delete)
	command -v iptables >/dev/null || die "iptables not found"
	remove iptables
	if ipv6; then remove ip6tables; fi
	;;
*)
	die "usage: iptables.sh [install|delete|print]"
	;;
esac
