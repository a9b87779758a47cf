'use strict';
'require view';
'require dom';
'require poll';
'require ui';
'require lango.api as api';

// Guests online now (kick, extend, block) and the blocked devices (unblock). A kick or a block
// ends the session at once; a blocked device can no longer buy, redeem or sign in.

function bytes(n) {
	return n == null ? '-' : '%1024.1mB'.format(n);
}

var GuestsView = view.extend({
	load: function() {
		return api.sessions();
	},

	// Asks how many minutes to add, then extends session `s`.
	extendDialog: function(s) {
		var input = E('input', { 'type': 'number', 'min': '1', 'value': '30', 'class': 'cbi-input-text' });
		var self = this;
		ui.showModal(_('Extend the session of %s').format(s.mac), [
			E('p', {}, [ _('Minutes to add: '), input ]),
			E('div', { 'class': 'right' }, [
				E('button', { 'class': 'btn', 'click': ui.hideModal }, _('Cancel')), ' ',
				E('button', {
					'class': 'btn cbi-button-action',
					'click': function() {
						ui.hideModal();
						return api.act(api.extend(s.id, parseInt(input.value, 10)),
							_('Session extended.'), L.bind(self.refresh, self));
					}
				}, _('Extend'))
			])
		]);
	},

	sessionRows: function(list) {
		var self = this;
		return list.map(function(s) {
			return [
				s.mac, s.ip || '-', s.package_name, api.duration(s.seconds_left),
				'%s / %s'.format(bytes(s.bytes_down), bytes(s.bytes_up)),
				E('span', {}, [
					E('button', { 'class': 'btn cbi-button-action', 'click': function() { self.extendDialog(s); } }, _('Extend')), ' ',
					E('button', { 'class': 'btn cbi-button-remove', 'click': function() {
						return api.act(api.kick(s.id), _('%s was disconnected.').format(s.mac), L.bind(self.refresh, self));
					} }, _('Kick')), ' ',
					E('button', { 'class': 'btn cbi-button-negative', 'click': function() {
						return api.act(api.block(s.mac, true), _('%s is blocked.').format(s.mac), L.bind(self.refresh, self));
					} }, _('Block'))
				])
			];
		});
	},

	blockedRows: function(macs) {
		var self = this;
		return macs.map(function(mac) {
			return [ mac, E('button', { 'class': 'btn cbi-button-positive', 'click': function() {
				return api.act(api.block(mac, false), _('%s may buy again.').format(mac), L.bind(self.refresh, self));
			} }, _('Unblock')) ];
		});
	},

	refresh: function() {
		var self = this;
		return api.sessions().then(function(data) {
			dom.content(self.body, self.tables(data));
		});
	},

	tables: function(data) {
		var note = data.truncated ? E('p', {}, _('Showing %d of %d guests.').format(data.sessions.length, data.total)) : '';
		return [
			note,
			api.table([ _('Device'), _('Address'), _('Package'), _('Time left'), _('Down / up'), '' ],
				this.sessionRows(data.sessions), _('Nobody is online.')),
			E('h3', {}, _('Blocked devices')),
			api.table([ _('Device'), '' ], this.blockedRows(data.blocked || []), _('No device is blocked.'))
		];
	},

	render: function(data) {
		this.body = E('div', {}, this.tables(data));
		poll.add(L.bind(this.refresh, this), 15);
		return E('div', { 'class': 'cbi-map' }, [
			E('h2', {}, _('Guests')),
			E('div', { 'class': 'cbi-map-descr' }, _('Devices with time left. Kick ends a session now; Block also stops the device from buying again until you unblock it.')),
			this.body
		]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});

return GuestsView;
