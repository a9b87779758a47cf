#!/bin/sh
# fw4 runs this after every firewall start and reload (a config include of type script, set up by
# /etc/uci-defaults/90_lango). `service firewall stop` deletes every nftables table, lango's
# included; a HUP makes lango re-read its config and rebuild table inet lango at once.
# It must stay quick and must not call fw4 or /etc/init.d/lango: fw4 holds its lock while
# includes run, and the init script asks fw4 for the guest zone.
# shellcheck shell=dash
killall -HUP lango 2>/dev/null
exit 0
