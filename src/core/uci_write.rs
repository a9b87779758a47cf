//! Writing `/etc/config/lango` back after the owner edits it from the owner page: a pure
//! renderer in the format `uci export` and `uci commit` produce (comments are not kept, as with
//! `uci commit`), and pure edits of package sections. The caller validates the result with
//! `config::parse` before it replaces the file (atomically), so a bad edit never lands.

use crate::core::uci::{Section, UciFile, UciOption, Value};

/// Quotes a value the way `uci export` does: single quotes, with `'` written as `'\''`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A section type as written: bare, as `uci commit` writes it, unless it holds a character
/// that would end or quote the word (a hand-written `config "a#b"`), which `uci commit` would
/// garble and lango quotes.
fn kind(text: &str) -> String {
    match text.contains(['\'', '"', '\\', '#', ';']) {
        true => quote(text),
        false => text.to_string(),
    }
}

/// Pure: UCI text for a parsed file.
pub fn render(file: &UciFile) -> String {
    let mut out = String::new();
    if let Some(package) = &file.package {
        out.push_str(&format!("package {}\n\n", quote(package)));
    }
    for (idx, section) in file.sections.iter().enumerate() {
        if idx > 0 {
            out.push('\n');
        }
        match &section.name {
            Some(name) => {
                out.push_str(&format!("config {} {}\n", kind(&section.kind), quote(name)))
            }
            None => out.push_str(&format!("config {}\n", kind(&section.kind))),
        }
        for option in &section.options {
            for value in &option.values {
                let keyword = if value.list { "list" } else { "option" };
                out.push_str(&format!(
                    "\t{keyword} {} {}\n",
                    option.name,
                    quote(&value.text)
                ));
            }
        }
    }
    out
}

/// Pure: what `uci export <package>` prints for the file libuci would load from these sections:
/// a `package` header, each section after a blank line (anonymous ones without a name), an
/// option set to '' left out (libuci deletes it), and a blank line at the end. The test against
/// the real `uci` (`tests/it/uci.rs`) compares the two byte for byte.
pub(crate) fn export(file: &UciFile, package: &str) -> String {
    let escape = |text: &str| text.replace('\'', "'\\''");
    let mut out = format!("package {}\n", escape(package));
    for section in &file.sections {
        out.push_str(&format!("\nconfig {}", escape(&section.kind)));
        if let Some(name) = &section.name {
            out.push_str(&format!(" '{}'", escape(name)));
        }
        out.push('\n');
        for option in &section.options {
            let list = option.values.len() > 1 || option.values.iter().any(|v| v.list);
            for value in &option.values {
                if !list && value.text.is_empty() {
                    continue;
                }
                let keyword = if list { "list" } else { "option" };
                let (name, text) = (escape(&option.name), escape(&value.text));
                out.push_str(&format!("\t{keyword} {name} '{text}'\n"));
            }
        }
    }
    out.push('\n');
    out
}

/// What the owner may set on a package. `None` removes an optional option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PackageEdit {
    pub id: String,
    pub name: String,
    /// `name_sw`, `description`, `description_sw`: the portal's words in both languages.
    pub name_sw: Option<String>,
    pub description: Option<String>,
    pub description_sw: Option<String>,
    pub price: String,
    pub duration: String,
    pub data: Option<String>,
    pub rate_down: Option<String>,
    pub rate_up: Option<String>,
    /// `devices`; none for one device (the default).
    pub devices: Option<String>,
    pub active: bool,
    pub order: i32,
}

fn value(text: &str) -> Vec<Value> {
    vec![Value {
        text: text.to_string(),
        line: 0,
        list: false,
    }]
}

fn set(section: &mut Section, name: &str, text: Option<&str>) {
    match text.filter(|t| !t.is_empty()) {
        Some(text) => match section.options.iter_mut().find(|o| o.name == name) {
            Some(option) => option.values = value(text),
            None => section.options.push(UciOption {
                name: name.to_string(),
                values: value(text),
            }),
        },
        None => section.options.retain(|o| o.name != name),
    }
}

/// Pure: creates or updates the named package section.
pub(crate) fn put_package(file: &mut UciFile, edit: &PackageEdit) {
    let existing = file
        .sections
        .iter_mut()
        .find(|s| s.kind == "package" && s.name.as_deref() == Some(edit.id.as_str()));
    let section = match existing {
        Some(s) => s,
        None => {
            file.sections.push(Section {
                kind: "package".into(),
                name: Some(edit.id.clone()),
                line: 0,
                options: Vec::new(),
            });
            let last = file.sections.len() - 1;
            &mut file.sections[last]
        }
    };
    set(section, "name", Some(&edit.name));
    set(section, "name_sw", edit.name_sw.as_deref());
    set(section, "description", edit.description.as_deref());
    set(section, "description_sw", edit.description_sw.as_deref());
    set(section, "price", Some(&edit.price));
    set(section, "duration", Some(&edit.duration));
    set(section, "data", edit.data.as_deref());
    set(section, "rate_down", edit.rate_down.as_deref());
    set(section, "rate_up", edit.rate_up.as_deref());
    set(section, "devices", edit.devices.as_deref());
    set(section, "active", Some(if edit.active { "1" } else { "0" }));
    set(section, "order", Some(&edit.order.to_string()));
}

/// Pure: sets one option of a package section; false if there is no such package.
pub(crate) fn set_package_option(file: &mut UciFile, id: &str, option: &str, text: &str) -> bool {
    match file
        .sections
        .iter_mut()
        .find(|s| s.kind == "package" && s.name.as_deref() == Some(id))
    {
        Some(section) => {
            set(section, option, Some(text));
            true
        }
        None => false,
    }
}

/// Pure: gives every anonymous package section the id lango derives from its name (what
/// `config::parse` calls it, `config::anonymous_package_ids`: never the name of another
/// section), so that edits find it by id.
pub(crate) fn name_packages(file: &mut UciFile) {
    for (idx, id) in crate::core::config::anonymous_package_ids(file) {
        if let Some(section) = file.sections.get_mut(idx) {
            section.name = Some(id);
        }
    }
}

/// Pure: `wanted` if no section of `file` has that name, else `wanted_2`, `wanted_3`...: a new
/// section's name that clashes with none (section names share one namespace in a UCI file).
pub(crate) fn free_name(file: &UciFile, wanted: &str) -> String {
    let taken = |name: &str| {
        file.sections
            .iter()
            .any(|s| s.name.as_deref() == Some(name))
    };
    let mut name = wanted.to_string();
    let mut n = 2;
    while taken(&name) {
        name = format!("{wanted}_{n}");
        n += 1;
    }
    name
}

/// Pure: sets (or with `None` or "" removes) a single option of the first section of `kind`,
/// creating `config <kind> '<kind>'` at the end when there is none.
pub(crate) fn set_section_option(file: &mut UciFile, kind: &str, option: &str, text: Option<&str>) {
    let idx = match file.sections.iter().position(|s| s.kind == kind) {
        Some(idx) => idx,
        None => {
            file.sections.push(Section {
                kind: kind.into(),
                name: Some(kind.into()),
                line: 0,
                options: Vec::new(),
            });
            file.sections.len() - 1
        }
    };
    if let Some(section) = file.sections.get_mut(idx) {
        set(section, option, text);
    }
}

/// Pure: replaces a list option of the first section of `kind` (which must exist).
pub(crate) fn set_section_list(file: &mut UciFile, kind: &str, option: &str, items: &[String]) {
    if let Some(section) = file.sections.iter_mut().find(|s| s.kind == kind) {
        section.options.retain(|o| o.name != option);
        if !items.is_empty() {
            section.options.push(UciOption {
                name: option.to_string(),
                values: items
                    .iter()
                    .map(|text| Value {
                        text: text.clone(),
                        line: 0,
                        list: true,
                    })
                    .collect(),
            });
        }
    }
}

/// Pure: adds `mac` to the gateway's `list allow_mac` (with `allowed`) or takes it off,
/// creating the gateway section if there is none. MACs are compared as MACs (any case), the
/// new MAC goes at the end in lower case; values that are not MACs are kept as they
/// are, for `config::parse` to report. Returns whether the list changed.
pub(crate) fn set_allowed(file: &mut UciFile, mac: crate::core::model::Mac, allowed: bool) -> bool {
    use crate::core::model::Mac;
    if !file.sections.iter().any(|s| s.kind == "gateway") {
        set_section_option(file, "gateway", "allow_mac", None);
    }
    let values = file
        .sections
        .iter()
        .find(|s| s.kind == "gateway")
        .and_then(|s| s.options.iter().find(|o| o.name == "allow_mac"))
        .map(|o| o.values.iter().map(|v| v.text.clone()).collect::<Vec<_>>())
        .unwrap_or_default();
    let is = |text: &String| text.parse::<Mac>().ok() == Some(mac);
    let present = values.iter().any(is);
    if present == allowed {
        return false;
    }
    let mut items: Vec<String> = values.into_iter().filter(|t| !is(t)).collect();
    if allowed {
        items.push(mac.to_string());
    }
    set_section_list(file, "gateway", "allow_mac", &items);
    true
}

/// Pure: the first option whose value has a control character (below 32, except tab), as
/// (section type, option). libuci refuses such a byte, or reads the next line into the value
/// (a NUL ends the value early and the rest of the line spills over), so the owner page never
/// writes one.
pub(crate) fn control_character(file: &UciFile) -> Option<(String, String)> {
    file.sections.iter().find_map(|section| {
        section
            .options
            .iter()
            .find(|o| {
                o.values
                    .iter()
                    .any(|v| v.text.chars().any(|c| c < ' ' && c != '\t'))
            })
            .map(|o| (section.kind.clone(), o.name.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_round_trips_through_the_parser() {
        let text =
            "config gateway 'main'\n\toption portal_port '8080'\n\tlist admin_allow '127.0.0.1'\n\
                    \tlist admin_allow '::1'\n\nconfig brand\n\toption name 'Mama'\\''s Cafe'\n";
        let (file, errors) = crate::core::uci::parse(text);
        assert!(errors.is_empty());
        let rendered = render(&file);
        assert_eq!(rendered, text);
        assert_eq!(crate::core::uci::parse(&rendered).0.sections, file.sections);
    }

    #[test]
    fn package_edits() {
        let (mut file, _) = crate::core::uci::parse("config package 'hour'\n\toption name '1 Hour'\n\toption price '20'\n\toption duration '1h'\n\toption data '1GB'\n");
        let edit = PackageEdit {
            id: "hour".into(),
            name: "One Hour".into(),
            name_sw: Some("Saa Moja".into()),
            description: Some("Good for video calls".into()),
            description_sw: None,
            price: "25".into(),
            duration: "1h".into(),
            data: None,
            rate_down: Some("5M".into()),
            rate_up: None,
            devices: Some("3".into()),
            active: true,
            order: 2,
        };
        put_package(&mut file, &edit);
        put_package(
            &mut file,
            &PackageEdit {
                id: "night".into(),
                name: "Night".into(),
                ..edit.clone()
            },
        );
        assert!(set_package_option(&mut file, "night", "active", "0"));
        assert!(!set_package_option(&mut file, "nope", "active", "0"));
        let text = render(&file);
        let config = crate::core::config::parse(&text, "test").expect("valid");
        let hour = config.package("hour").unwrap();
        assert_eq!(
            (
                hour.name.as_str(),
                hour.price.0,
                hour.quota_bytes,
                hour.rate_down_kbit,
                hour.devices
            ),
            ("One Hour", 2500, None, Some(5000), 3)
        );
        assert_eq!(hour.name_sw.as_deref(), Some("Saa Moja"));
        assert_eq!(hour.description.as_deref(), Some("Good for video calls"));
        assert_eq!(hour.description_sw, None);
        assert!(!config.package("night").unwrap().active);
    }

    #[test]
    fn section_edits() {
        let (mut file, _) = crate::core::uci::parse(
            "config gateway 'main'\n\tlist admin_allow '127.0.0.1'\nconfig package\n\toption name 'Late Night'\n\toption price '30'\n\toption duration '8h'\n",
        );
        name_packages(&mut file);
        assert!(set_package_option(&mut file, "late_night", "active", "0"));
        set_section_option(&mut file, "brand", "name", Some("Mama's <Cafe>"));
        set_section_option(&mut file, "gateway", "language", Some("sw"));
        set_section_list(
            &mut file,
            "gateway",
            "admin_allow",
            &["192.168.1.0/24".into(), "::1".into()],
        );
        let config = crate::core::config::parse(&render(&file), "test").expect("valid");
        assert_eq!(config.brand.name, "Mama's <Cafe>");
        assert_eq!(config.gateway.admin_allow.len(), 2);
        assert_eq!(config.gateway.language, crate::core::model::Lang::Sw);
        assert!(!config.package("late_night").unwrap().active);
        set_section_option(&mut file, "brand", "name", None);
        assert_eq!(
            crate::core::config::parse(&render(&file), "t")
                .unwrap()
                .brand
                .name,
            "Wi-Fi"
        );
    }

    #[test]
    fn allow_list_edits() {
        let (mut file, errors) = crate::core::uci::parse_bytes(
            b"config gateway 'main'\n\tlist allow_mac '02:AA:00:00:00:05'\n",
        );
        assert!(errors.is_empty());
        let five = "02:aa:00:00:00:05".parse().unwrap();
        let one = "02:aa:00:00:00:01".parse().unwrap();
        assert!(!set_allowed(&mut file, five, true), "already there");
        assert!(set_allowed(&mut file, one, true));
        let text = render(&file);
        assert!(
            text.contains(
                "list allow_mac '02:AA:00:00:00:05'\n\tlist allow_mac '02:aa:00:00:00:01'"
            ),
            "{text}"
        );
        assert!(set_allowed(&mut file, five, false));
        assert!(set_allowed(&mut file, one, false));
        assert!(!render(&file).contains("allow_mac"));
        let (mut empty, _) = crate::core::uci::parse_bytes(b"");
        assert!(set_allowed(&mut empty, one, true));
        assert!(render(&empty)
            .contains("config gateway 'gateway'\n\tlist allow_mac '02:aa:00:00:00:01'"));
    }
}
