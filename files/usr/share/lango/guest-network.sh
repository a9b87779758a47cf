#!/bin/sh
# A guest network of its own for lango, in one step, with OpenWrt's own `uci`. Run through
# `lango setup-guest-network [--ssid NAME] [--key PASS] [--undo]` (which checks the arguments),
# never on its own at install time.
# shellcheck shell=dash
#
#   guest-network.sh setup SSID [KEY]     KEY empty: an open SSID; else WPA2-PSK
#   guest-network.sh undo
#
# setup creates, beside `lan` (which it never changes):
#   network   device 'lango_guest_dev' (bridge br-guest) and interface 'guest' (static, the first
#             free 192.168.N.1/24 from N=3 on; option lango_guest '1' marks it as lango's)
#   wireless  wifi-iface 'lango_guest_<radio>' on every wifi-device: ap, network guest, isolate
#   firewall  zone 'lango_guest' (name guest: input REJECT, forward REJECT), forwarding
#             'lango_guest_wan' (guest -> wan, none to lan), rules 'lango_guest_dhcp',
#             'lango_guest_dns', 'lango_guest_portal' (lango's portal and DNS ports)
#   dhcp      dhcp 'lango_guest' (interface guest, option 114 = lango's RFC 8908 API URI)
#   lango     gateway interface 'guest', device 'br-guest', portal_addr the new address; the
#             options it replaces are saved in /etc/lango/guest-network.undo
# Every section it creates is named lango_guest*, except the interface, which must be 'guest'
# and carries the marker option instead; undo deletes exactly those, puts lango's options back
# and removes the save file. A second setup changes nothing (or only the SSID and key given).
# All edits are staged with `uci` and committed together; the services are reloaded after.
#
# Exit status: 0 done, 1 uci or a service failed, 2 refused (a 'guest' network or zone that is
# not lango's, unsaved uci changes, nothing to undo).
#
# For tests: LANGO_UCI_CONFDIR and LANGO_UCI_SAVEDIR are uci's -c and -t, LANGO_GUEST_UNDO the
# save file, LANGO_GUEST_RELOAD=0 says the files are a copy, not the live router's: no service is
# reloaded and the host's addresses do not count when choosing the subnet.

set -u
PKGS="network wireless firewall dhcp lango"
UNDO=${LANGO_GUEST_UNDO:-/etc/lango/guest-network.undo}
# The options of lango's gateway section that setup replaces (saved first, put back by undo).
SAVED="interface device portal_addr portal_addr6 guest_net"

u() {
	uci ${LANGO_UCI_CONFDIR:+-c "$LANGO_UCI_CONFDIR"} ${LANGO_UCI_SAVEDIR:+-t "$LANGO_UCI_SAVEDIR"} "$@"
}

die() {
	echo "lango: $2" >&2
	exit "$1"
}

# Stage one change; a failure reverts everything staged so far (there was nothing staged
# before: see no_pending).
s() {
	u -q "$@" && return 0
	for pkg in $PKGS; do u -q revert "$pkg" 2>/dev/null; done
	die 1 "uci $* failed; nothing was changed"
}

# Owner changes staged but not saved (LuCI's "unsaved changes") would be committed with ours.
no_pending() {
	for pkg in $PKGS; do
		[ -z "$(u -q changes "$pkg" 2>/dev/null)" ] ||
			die 2 "/etc/config/$pkg has unsaved changes (uci changes $pkg): save or revert them first"
	done
}

# The names of PKG's sections of TYPE (anonymous ones as cfgXXXXXX).
sections() {
	u -q -X show "$1" 2>/dev/null | sed -n "s/^$1\.\([A-Za-z0-9_]*\)=$2\$/\1/p"
}

# The names of PKG's sections that lango created.
ours() {
	u -q -X show "$1" 2>/dev/null | sed -n "s/^$1\.\(lango_guest[A-Za-z0-9_]*\)=.*/\1/p"
}

gateway_section() {
	GW=$(sections lango gateway | head -n 1)
	[ -n "$GW" ] || die 2 "/etc/config/lango has no gateway section"
}

# The first 192.168.N.1 (N >= 3) that no network uses: none in /etc/config/network and, on the
# router itself, no address the router has now (a wan in 192.168.3.0/24 behind the ISP's box).
free_address() {
	used=$(u -q -X show network | sed -n "s/^network\.[A-Za-z0-9_]*\.ipaddr=//p" | tr -d "'")
	if [ "${LANGO_GUEST_RELOAD:-1}" != 0 ] && command -v ip >/dev/null 2>&1; then
		used="$used
$(ip -4 -o addr show 2>/dev/null | awk '{ print $4 }')"
	fi
	n=3
	while [ "$n" -lt 255 ]; do
		case " $(echo "$used" | tr '\n' ' ')" in
		*" 192.168.$n."*) n=$((n + 1)) ;;
		*)
			echo "192.168.$n.1"
			return 0
			;;
		esac
	done
	die 2 "no free 192.168.N.0/24 for the guest network"
}

reload() {
	[ "${LANGO_GUEST_RELOAD:-1}" = 0 ] && return 0
	status=0
	[ -x /etc/init.d/network ] && { /etc/init.d/network reload || status=1; }
	command -v wifi >/dev/null 2>&1 && { wifi reload || status=1; }
	[ -x /etc/init.d/dnsmasq ] && { /etc/init.d/dnsmasq reload || status=1; }
	[ -x /etc/init.d/firewall ] && { /etc/init.d/firewall reload || status=1; }
	# lango's reload restarts it (a start-only option changed). From the owner page lango runs
	# this script itself: the restart waits a moment so that the page gets its answer.
	if [ -x /etc/init.d/lango ]; then
		if [ "${LANGO_GUEST_DETACH:-0}" = 1 ]; then
			(sleep 2 && /etc/init.d/lango reload) >/dev/null 2>&1 </dev/null &
		else
			/etc/init.d/lango reload || status=1
		fi
	fi
	[ "$status" = 0 ] || die 1 "the settings are saved but a service failed to reload (logread)"
}

setup() {
	ssid=$1 key=$2
	no_pending
	gateway_section
	if [ "$(u -q get network.guest)" = interface ] && [ "$(u -q get network.guest.lango_guest)" != 1 ]; then
		die 2 "a network named 'guest' exists and is not lango's: point lango at it instead (option interface 'guest' in /etc/config/lango)"
	fi
	for zone in $(sections firewall zone); do
		case $zone in lango_guest*) continue ;; esac
		[ "$(u -q get "firewall.$zone.name")" != guest ] ||
			die 2 "a firewall zone named 'guest' exists and is not lango's"
	done
	addr=$(u -q get network.guest.ipaddr) || addr=$(free_address)
	port=$(u -q get "lango.$GW.portal_port") || port=8080
	dns=$(u -q get "lango.$GW.dns_port") || dns=8053

	# lango's options as they are now, once: a second setup must not save its own values.
	# shellcheck disable=SC2015 # a failed mv is a failure too
	if [ ! -f "$UNDO" ]; then
		mkdir -p "$(dirname "$UNDO")" || die 1 "cannot create $(dirname "$UNDO")"
		for opt in $SAVED; do
			value=$(u -q get "lango.$GW.$opt") || {
				echo "$opt"
				continue
			}
			if [ "$opt" = guest_net ]; then
				for item in $value; do echo "$opt $item"; done
			else
				echo "$opt $value"
			fi
		done >"$UNDO.tmp" && mv "$UNDO.tmp" "$UNDO" || die 1 "cannot write $UNDO"
	fi

	s set network.lango_guest_dev=device
	s set network.lango_guest_dev.type=bridge
	s set network.lango_guest_dev.name=br-guest
	s set network.lango_guest_dev.bridge_empty=1
	s set network.guest=interface
	s set network.guest.proto=static
	s set network.guest.device=br-guest
	s set "network.guest.ipaddr=$addr"
	s set network.guest.netmask=255.255.255.0
	s set network.guest.lango_guest=1

	radios=$(sections wireless wifi-device)
	for radio in $radios; do
		w=wireless.lango_guest_$radio
		s set "$w=wifi-iface"
		s set "$w.device=$radio"
		s set "$w.mode=ap"
		s set "$w.network=guest"
		s set "$w.ssid=$ssid"
		# Guests do not see each other's devices.
		s set "$w.isolate=1"
		if [ -n "$key" ]; then
			s set "$w.encryption=psk2"
			s set "$w.key=$key"
		else
			s set "$w.encryption=none"
			u -q delete "$w.key"
		fi
	done

	f=firewall.lango_guest
	s set "$f=zone"
	s set "$f.name=guest"
	s set "$f.network=guest"
	s set "$f.input=REJECT"
	s set "$f.output=ACCEPT"
	s set "$f.forward=REJECT"
	s set "${f}_wan=forwarding"
	s set "${f}_wan.src=guest"
	s set "${f}_wan.dest=wan"
	s set "${f}_dhcp=rule"
	s set "${f}_dhcp.name=Allow-DHCP-Guest"
	s set "${f}_dhcp.src=guest"
	s set "${f}_dhcp.proto=udp"
	s set "${f}_dhcp.dest_port=67"
	s set "${f}_dhcp.family=ipv4"
	s set "${f}_dhcp.target=ACCEPT"
	s set "${f}_dns=rule"
	s set "${f}_dns.name=Allow-DNS-Guest"
	s set "${f}_dns.src=guest"
	s set "${f}_dns.proto=tcp udp"
	s set "${f}_dns.dest_port=53"
	s set "${f}_dns.target=ACCEPT"
	s set "${f}_portal=rule"
	s set "${f}_portal.name=Allow-Lango-Guest"
	s set "${f}_portal.src=guest"
	s set "${f}_portal.proto=tcp udp"
	s set "${f}_portal.dest_port=$port $dns"
	s set "${f}_portal.target=ACCEPT"

	d=dhcp.lango_guest
	s set "$d=dhcp"
	s set "$d.interface=guest"
	s set "$d.start=100"
	s set "$d.limit=150"
	s set "$d.leasetime=1h"
	u -q delete "$d.dhcp_option_force"
	s add_list "$d.dhcp_option_force=114,http://$addr:$port/api/captive"

	g=lango.$GW
	s set "$g.interface=guest"
	s set "$g.device=br-guest"
	s set "$g.portal_addr=$addr"
	u -q delete "$g.portal_addr6"
	u -q delete "$g.guest_net"

	for pkg in $PKGS; do
		[ -z "$(u -q changes "$pkg")" ] || u commit "$pkg" || die 1 "uci commit $pkg failed"
	done
	security=open
	[ -z "$key" ] || security=WPA2
	echo "guest network: br-guest $addr/24, SSID '$ssid' ($security) on: $(echo "${radios:-no radio}" | tr '\n' ' ')"
	for radio in $radios; do
		[ "$(u -q get "wireless.$radio.disabled")" != 1 ] ||
			echo "note: $radio is switched off; switch it on with: uci set wireless.$radio.disabled=0; uci commit wireless; wifi"
	done
	reload
}

undo() {
	no_pending
	[ "$(u -q get network.guest.lango_guest)" = 1 ] && guest=1 || guest=0
	found=
	for pkg in network wireless firewall dhcp; do
		for sec in $(ours "$pkg"); do
			s delete "$pkg.$sec"
			found=1
		done
	done
	[ "$guest" = 1 ] && s delete network.guest && found=1
	if [ -f "$UNDO" ]; then
		gateway_section
		# A set keeps an option where it was in the section; only a list is rebuilt.
		u -q delete "lango.$GW.guest_net"
		while read -r opt value; do
			if [ -z "$value" ]; then
				u -q delete "lango.$GW.$opt"
			elif [ "$opt" = guest_net ]; then
				s add_list "lango.$GW.$opt=$value"
			else
				s set "lango.$GW.$opt=$value"
			fi
		done <"$UNDO"
		found=1
	fi
	[ -n "$found" ] || die 2 "no guest network of lango's to remove"
	for pkg in $PKGS; do
		[ -z "$(u -q changes "$pkg")" ] || u commit "$pkg" || die 1 "uci commit $pkg failed"
	done
	rm -f "$UNDO"
	echo "guest network removed; lango is back on its former network"
	reload
}

case ${1:-} in
setup) setup "${2:-Guest Wi-Fi}" "${3:-}" ;;
undo) undo ;;
*) die 2 "usage: $0 setup SSID [KEY] | undo" ;;
esac
