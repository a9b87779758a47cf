'use strict';
'require view';
'require dom';
'require ui';
'require lango.api as api';

// Makes vouchers for a package and prints them: a sheet of cut-out cards with the code, the
// package and its expiry date, in a window of its own (the browser's print dialog).

// The sheet's page, built as text so that the print window needs nothing from LuCI.
function sheet(title, pkg, codes, validUntil) {
	var esc = function(s) { return String(s).replace(/[&<>"']/g, function(c) { return '&#' + c.charCodeAt(0) + ';'; }); };
	var until = validUntil ? _('Use before %s').format(new Date(validUntil * 1000).toLocaleDateString()) : '';
	var cards = codes.map(function(code) {
		return '<div class="card"><b>' + esc(title) + '</b><br>' + esc(pkg) +
			'<div class="code">' + esc(code) + '</div>' + esc(until) + '</div>';
	}).join('');
	return '<!DOCTYPE html><html><head><meta charset="utf-8"><title>' + esc(title) + '</title><style>' +
		'body{font-family:sans-serif;margin:1em}.card{display:inline-block;width:16em;margin:.3em;' +
		'padding:.6em;border:1px dashed #555;text-align:center;page-break-inside:avoid}' +
		'.code{font:bold 1.6em monospace;letter-spacing:.1em;margin:.3em 0}</style></head>' +
		'<body onload="window.print()">' + cards + '</body></html>';
}

function printSheet(title, pkg, codes, validUntil) {
	var w = window.open('', '_blank');
	if (!w)
		return ui.addNotification(null, E('p', {}, _('The browser blocked the print window; allow pop-ups for this page.')), 'warning');
	w.document.write(sheet(title, pkg, codes, validUntil));
	w.document.close();
}

return view.extend({
	load: function() {
		return api.packages();
	},

	render: function(data) {
		var active = data.packages.filter(function(p) { return p.active; });
		var pkg = E('select', { 'class': 'cbi-input-select' }, active.map(function(p) {
			return E('option', { 'value': p.id }, '%s (%s %s)'.format(p.name, data.currency, p.price));
		}));
		var count = E('input', { 'type': 'number', 'min': '1', 'max': '500', 'value': '10', 'class': 'cbi-input-text' });
		var days = E('input', { 'type': 'number', 'min': '0', 'max': '3650', 'value': '30', 'class': 'cbi-input-text' });
		var title = E('input', { 'type': 'text', 'value': 'Wi-Fi', 'class': 'cbi-input-text' });
		var out = E('div', {});
		var field = function(label, input, help) {
			return E('div', { 'class': 'cbi-value' }, [
				E('label', { 'class': 'cbi-value-title' }, label),
				E('div', { 'class': 'cbi-value-field' }, [ input, help ? E('div', { 'class': 'cbi-value-description' }, help) : '' ])
			]);
		};
		var generate = function() {
			var name = pkg.options[pkg.selectedIndex] ? pkg.options[pkg.selectedIndex].text : '';
			return api.act(api.voucherGenerate(pkg.value, parseInt(count.value, 10), parseInt(days.value, 10)),
				_('Vouchers made.'), function(r) {
					dom.content(out, [
						E('pre', {}, r.codes.join('\n')),
						E('button', { 'class': 'btn cbi-button-action', 'click': function() {
							printSheet(title.value, name, r.codes, r.valid_until);
						} }, _('Print sheet'))
					]);
				});
		};
		return E('div', { 'class': 'cbi-map' }, [
			E('h2', {}, _('Vouchers')),
			E('div', { 'class': 'cbi-map-descr' }, _('Codes a guest types on the portal instead of paying by M-Pesa. Sell or give them away; each works once.')),
			E('div', { 'class': 'cbi-section' }, [
				field(_('Package'), pkg),
				field(_('How many'), count, _('1 to 500')),
				field(_('Valid for (days)'), days, _('0: no expiry')),
				field(_('Title on the sheet'), title),
				E('button', { 'class': 'btn cbi-button-positive', 'click': ui.createHandlerFn(this, generate) }, _('Generate'))
			]),
			out
		]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
