'use strict';
'require view';
'require form';
'require lango.api as api';

// What guests can buy: the `package` sections of /etc/config/lango, edited through uci. Save &
// Apply commits, and procd's reload trigger makes lango read the file again.

return view.extend({
	load: function() {
		return api.packages();
	},

	render: function(data) {
		var m = new form.Map('lango', _('Packages'),
			_('What guests can buy. Prices are in %s. Times like 30m, 1h, 1d; data like 500MB or 1GB; speeds like 5M or 512k. Do not rename a package once guests have bought it.').format(data.currency));
		var s = m.section(form.GridSection, 'package');
		s.addremove = true;
		s.anonymous = false;
		s.nodescriptions = true;

		var o = s.option(form.Value, 'name', _('Name'));
		o.rmempty = false;
		o = s.option(form.Value, 'price', _('Price'));
		o.rmempty = false;
		o.datatype = 'ufloat';
		o = s.option(form.Value, 'duration', _('Duration'));
		o.rmempty = false;
		o.placeholder = '1h';
		o = s.option(form.Value, 'data', _('Data'));
		o.placeholder = _('no limit');
		o = s.option(form.Value, 'rate_down', _('Download speed'));
		o.placeholder = _('no limit');
		o = s.option(form.Value, 'rate_up', _('Upload speed'));
		o.placeholder = _('no limit');
		o = s.option(form.Flag, 'active', _('On sale'));
		o.default = '1';
		o = s.option(form.Value, 'order', _('Order'));
		o.datatype = 'uinteger';
		o.modalonly = true;
		return m.render();
	}
});
