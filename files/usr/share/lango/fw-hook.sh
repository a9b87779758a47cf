#!/bin/sh
# fw4 runs this after every firewall start and reload (config include, type script).
# `service firewall restart` and `stop` delete every nftables table, lango's included; a HUP
# makes lango re-check the config and rebuild table inet lango at once. It must stay quick and
# must not call fw4 (fw4 holds its lock while includes run).
killall -HUP lango 2>/dev/null
exit 0
