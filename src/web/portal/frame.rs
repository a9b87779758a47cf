//! The portal's rendered parts that depend on the config and the language only, kept so that a
//! page view does not fill the template, escape the brand, read the logo file or lay out the
//! package cards again: the page frame (the template with everything but the refresh, the body
//! and the script filled in) and the home page's offer (packages, voucher, account sign-in and
//! SMS cards). An entry is valid for one `Config` (compared by `Arc` identity, so a reload,
//! from SIGHUP, ubus or the owner page, renders afresh), one language and, for the offer,
//! whether any guest account exists. Nothing here depends on the device asking: what does (the
//! session card, a pending payment, a notice, a `?code=` voucher) is rendered per request.

use std::sync::{Arc, Mutex};

use crate::core::config::Config;
use crate::core::locks;
use crate::core::model::Lang;

/// The template around the three parts a page fills per request, in the template's order.
pub(crate) struct Frame {
    /// Up to `{{refresh}}`, `{{body}}`, `{{script}}`, and after it.
    pieces: [String; 4],
}

impl Frame {
    /// Splits `template` at the three markers and fills each piece with `fill` (so that a
    /// filled-in value can never be taken for a marker). A template without one of the markers
    /// keeps that part empty (a missing marker is never a panic).
    pub(crate) fn new(template: &str, fill: impl Fn(&str) -> String) -> Frame {
        let mut pieces: [String; 4] = Default::default();
        let mut rest = template;
        for (idx, marker) in ["{{refresh}}", "{{body}}", "{{script}}"].iter().enumerate() {
            if let Some((before, after)) = rest.split_once(marker) {
                pieces[idx] = fill(before);
                rest = after;
            }
        }
        pieces[3] = fill(rest);
        Frame { pieces }
    }

    /// The page with these parts, in one allocation.
    pub(crate) fn render(&self, refresh: &str, body: &str, script: &str) -> String {
        let [a, b, c, d] = &self.pieces;
        let len = a.len() + b.len() + c.len() + d.len() + refresh.len() + body.len() + script.len();
        let mut out = String::with_capacity(len);
        for part in [a.as_str(), refresh, b, body, c, script, d] {
            out.push_str(part);
        }
        out
    }
}

/// One cached rendering.
struct Entry<K, V> {
    config: Arc<Config>,
    key: K,
    value: Arc<V>,
}

/// Renderings for the config in force; entries of an older config are dropped when the first
/// one for a newer config is made.
pub(crate) struct Cache<K, V> {
    entries: Mutex<Vec<Entry<K, V>>>,
}

impl<K: PartialEq + Copy, V> Cache<K, V> {
    pub(crate) fn new() -> Cache<K, V> {
        Cache {
            entries: Mutex::new(Vec::new()),
        }
    }

    /// The rendering for `config` and `key`, made with `render` if there is none yet. The lock
    /// is not held while rendering (two views may render the same part once each; both are
    /// correct).
    pub(crate) fn get(&self, config: &Arc<Config>, key: K, render: impl FnOnce() -> V) -> Arc<V> {
        let found = locks::lock(&self.entries)
            .iter()
            .find(|e| Arc::ptr_eq(&e.config, config) && e.key == key)
            .map(|e| e.value.clone());
        if let Some(value) = found {
            return value;
        }
        let value = Arc::new(render());
        let mut entries = locks::lock(&self.entries);
        entries.retain(|e| Arc::ptr_eq(&e.config, config));
        if !entries.iter().any(|e| e.key == key) {
            entries.push(Entry {
                config: config.clone(),
                key,
                value: value.clone(),
            });
        }
        value
    }
}

/// What the portal keeps: frames per language, offers per language, "any account" and
/// "online" (an online guest is not offered moving a purchase or pasting an SMS).
pub(crate) struct Pages {
    pub(crate) frames: Cache<Lang, Frame>,
    pub(crate) offers: Cache<(Lang, bool, bool), String>,
}

impl Pages {
    pub(crate) fn new() -> Pages {
        Pages {
            frames: Cache::new(),
            offers: Cache::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_puts_the_parts_where_the_markers_were() {
        let template = "<head>{{refresh}}{{x}}</head><b>{{body}}</b>{{script}}<end>";
        // A value that looks like a marker stays text.
        let frame = Frame::new(template, |piece| piece.replace("{{x}}", "{{body}}"));
        assert_eq!(
            frame.render("R", "B", "S"),
            "<head>R{{body}}</head><b>B</b>S<end>"
        );
        // A template without a marker still renders what it has.
        let frame = Frame::new("plain", str::to_string);
        assert_eq!(frame.render("R", "B", "S"), "RBSplain");
    }
}
