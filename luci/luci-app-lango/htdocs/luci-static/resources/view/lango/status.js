'use strict';
'require view';
'require poll';
'require dom';
'require uci';
'require lango.api as api';

// Guests online, revenue and the M-Pesa (Daraja) account at a glance, refreshed every 10 s.
// Read-only: no Save buttons.

function row(label, value) {
	return E('tr', { 'class': 'tr' }, [
		E('td', { 'class': 'td left', 'width': '33%' }, label),
		E('td', { 'class': 'td left' }, value)
	]);
}

function rows(s) {
	var cur = s.currency || '';
	var env = uci.get('lango', 'mpesa', 'environment');
	var daraja = s.mpesa
		? _('configured (%s)').format(env || '?')
		: _('not configured: guests can only use vouchers');
	return [
		row(_('Guests online'), String(s.sessions_active)),
		row(_('Revenue today'), '%s %s'.format(cur, s.revenue_today)),
		row(_('Last 7 days'), '%s %s'.format(cur, s.revenue_7d)),
		row(_('Last 30 days'), '%s %s'.format(cur, s.revenue_30d)),
		row(_('Payments waiting'), String(s.payments_open)),
		row(_('Unused vouchers'), String(s.vouchers_unused)),
		row(_('Packages on sale'), String(s.packages)),
		row(_('M-Pesa (Daraja)'), daraja),
		row(_('Router clock'), s.clock_trusted ? _('trusted') : _('not yet set: sales wait for it')),
		row(_('Guest portal'), s.portal),
		row(_('lango version'), s.version)
	];
}

return view.extend({
	load: function() {
		return Promise.all([ api.status(), uci.load('lango') ]);
	},

	render: function(data) {
		var body = E('table', { 'class': 'table' }, rows(data[0]));
		poll.add(function() {
			return api.status().then(function(s) {
				dom.content(body, rows(s));
			});
		}, 10);
		return E('div', { 'class': 'cbi-map' }, [
			E('h2', {}, _('Wi-Fi sales')),
			E('div', { 'class': 'cbi-map-descr' },
				_('Revenue counts paid M-Pesa prompts and approved SMS, per day in lango\'s time zone (option utc_offset). lango\'s own owner page shows the same numbers.')),
			body
		]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
