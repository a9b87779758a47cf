'use strict';
'require baseclass';
'require rpc';
'require ui';

// The lango ubus object, as the views call it. Every rpc.declare here needs its method in
// root/usr/share/rpcd/acl.d/luci-app-lango.json (read: what only looks, write: what changes);
// tests/it/luci.rs parses this file and fails if the two lists differ.
// reject: a non-zero ubus status ("Permission denied", "Resource not found") rejects the
// promise instead of resolving with the bare number, so api.act reports it.

var callStatus = rpc.declare({ object: 'lango', method: 'status', reject: true });
var callSessions = rpc.declare({ object: 'lango', method: 'sessions', reject: true });
var callPackages = rpc.declare({ object: 'lango', method: 'packages', reject: true });
var callPayments = rpc.declare({ object: 'lango', method: 'payments', params: [ 'limit' ], reject: true });
var callKick = rpc.declare({ object: 'lango', method: 'kick', params: [ 'id' ], reject: true });
var callExtend = rpc.declare({ object: 'lango', method: 'extend', params: [ 'id', 'minutes' ], reject: true });
var callBlock = rpc.declare({ object: 'lango', method: 'block', params: [ 'mac', 'blocked' ], reject: true });
var callVoucherGenerate = rpc.declare({ object: 'lango', method: 'voucher_generate', params: [ 'package', 'count', 'days' ], reject: true });
var callReload = rpc.declare({ object: 'lango', method: 'reload', reject: true });

return baseclass.extend({
	status: callStatus,
	sessions: callSessions,
	packages: callPackages,
	payments: callPayments,
	kick: callKick,
	extend: callExtend,
	block: callBlock,
	voucherGenerate: callVoucherGenerate,
	reload: callReload,

	// A Unix time as the browser's local date and time ('-' for none).
	time: function(t) {
		return t ? new Date(t * 1000).toLocaleString() : '-';
	},

	// Seconds as "2h 05m" (or "45m", "30s").
	duration: function(s) {
		s = Math.max(0, s || 0);
		var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
		if (h > 0)
			return '%dh %02dm'.format(h, m);
		return m > 0 ? '%dm'.format(m) : '%ds'.format(s);
	},

	// A table of rows, with a line saying so when there are none.
	table: function(headers, rows, empty) {
		var t = E('table', { 'class': 'table' }, [
			E('tr', { 'class': 'tr table-titles' },
				headers.map(function(h) { return E('th', { 'class': 'th' }, h); }))
		]);
		cbi_update_table(t, rows, E('em', {}, empty));
		return t;
	},

	// Runs a call that changes something, says how it went, and then runs `after`.
	act: function(promise, done, after) {
		return promise.then(function(reply) {
			ui.addNotification(null, E('p', {}, done), 'info');
			return after ? after(reply) : reply;
		}).catch(function(e) {
			ui.addNotification(null, E('p', {}, _('lango refused: %s').format(e.message || e)), 'danger');
		});
	}
});
