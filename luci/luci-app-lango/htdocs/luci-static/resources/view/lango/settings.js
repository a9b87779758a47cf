'use strict';
'require view';
'require form';
'require ui';
'require lango.api as api';

// The gateway, brand and M-Pesa sections of /etc/config/lango through uci. Save & Apply
// commits; procd's reload trigger makes lango read the file. "Check and reload" asks lango to
// read it now and shows what it refused (a wrong file leaves the old settings running).

return view.extend({
	render: function() {
		var m = new form.Map('lango', _('Settings'),
			_('lango\'s own owner page (with the same settings) stays available on the router; see option admin_addr.'));
		var s, o;

		s = m.section(form.NamedSection, 'main', 'gateway', _('Portal'));
		o = s.option(form.Flag, 'enabled', _('Sell internet to guests'));
		o.rmempty = false;
		o = s.option(form.Value, 'interface', _('Guest network'), _('The OpenWrt interface the guests are on.'));
		o.rmempty = false;
		o = s.option(form.Value, 'portal_addr', _('Portal address'), _('The router\'s address on the guest network.'));
		o.datatype = 'ipaddr';
		o = s.option(form.Value, 'portal_port', _('Portal port'));
		o.datatype = 'port';
		o = s.option(form.Value, 'currency', _('Currency'));
		o = s.option(form.ListValue, 'language', _('Guest page language'));
		o.value('en', 'English');
		o.value('sw', 'Kiswahili');
		o = s.option(form.Value, 'utc_offset', _('Time zone'), _('Offset from UTC for "today", e.g. +03:00.'));
		o.placeholder = '+00:00';

		// GUEST NETWORK (wt-guestnet): the "Set up a guest network" button goes here. It will
		// call `lango setup_guest_network` (ubus) once that method exists; add the method to
		// the write list of root/usr/share/rpcd/acl.d/luci-app-lango.json at the same time
		// (tests/it/luci.rs fails until both agree).

		s = m.section(form.NamedSection, 'brand', 'brand', _('Brand'));
		s.option(form.Value, 'name', _('Name guests see'));
		o = s.option(form.Value, 'colour', _('Page colour'));
		o.placeholder = '#0b6e4f';
		s.option(form.Value, 'phone', _('Phone'));
		s.option(form.Value, 'email', _('E-mail'));

		s = m.section(form.NamedSection, 'mpesa', 'mpesa', _('M-Pesa (Daraja)'));
		o = s.option(form.ListValue, 'environment', _('Environment'));
		o.value('sandbox', _('sandbox (no real money)'));
		o.value('production', _('production'));
		o = s.option(form.ListValue, 'type', _('Account type'));
		o.value('paybill', _('Paybill'));
		o.value('till', _('Buy Goods till'));
		s.option(form.Value, 'shortcode', _('Shortcode'));
		o = s.option(form.Value, 'till', _('Till number'));
		o.depends('type', 'till');
		s.option(form.Value, 'account_reference', _('Account reference'));
		o = s.option(form.Value, 'consumer_key', _('Consumer key'));
		o.password = true;
		o = s.option(form.Value, 'consumer_secret', _('Consumer secret'));
		o.password = true;
		o = s.option(form.Value, 'passkey', _('Passkey'));
		o.password = true;
		o = s.option(form.Value, 'callback_url', _('Public callback address'), _('Optional: without it lango asks Safaricom how each payment ended.'));

		return m.render().then(function(node) {
			return E('div', {}, [
				node,
				E('button', {
					'class': 'btn cbi-button-action',
					'click': ui.createHandlerFn(null, function() {
						return api.reload().then(function(r) {
							ui.addNotification(null, E('p', {}, r.reloaded
								? _('lango reads the saved settings.')
								: _('lango kept its old settings: %s').format(r.error)), r.reloaded ? 'info' : 'danger');
						});
					})
				}, _('Check and reload'))
			]);
		});
	}
});
