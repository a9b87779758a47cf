'use strict';
'require view';
'require lango.api as api';

// The latest M-Pesa prompts, newest first. Phone numbers come masked from lango; the owner page
// has the full books (CSV, pasted SMS).

var LIMIT = 100;

return view.extend({
	load: function() {
		return Promise.all([ api.payments(LIMIT), api.packages() ]);
	},

	render: function(data) {
		var cur = data[1].currency || '';
		var rows = data[0].payments.map(function(p) {
			return [ api.time(p.created_at), p.phone, p.package, '%s %s'.format(cur, p.amount), p.state, p.receipt || '-', p.mac ];
		});
		return E('div', { 'class': 'cbi-map' }, [
			E('h2', {}, _('Payments')),
			E('div', { 'class': 'cbi-map-descr' }, _('The last %d M-Pesa prompts. Pasted SMS and the daily totals are on lango\'s own owner page.').format(LIMIT)),
			api.table([ _('Time'), _('Phone'), _('Package'), _('Amount'), _('State'), _('Receipt'), _('Device') ], rows, _('No payments yet.'))
		]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
