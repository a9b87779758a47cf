//! UCI files (`/etc/config/<name>`) to sections and options: libuci's `file.c` parser
//! transcribed, quirks included, without running the `uci` program. Pure and total: it never
//! panics, keeps going after a mistake so that every syntax problem in a file is reported at
//! once, and remembers the line of every section and value. It knows nothing about lango's own
//! options; `config` owns those. `tests/it/uci.rs` runs the real `uci` on the same files.
//!
//! A file the `uci` program (strict, its default) refuses, lango refuses too. lango is stricter
//! where libuci would quietly lose or garble something, so that typos are caught:
//! - an `option` set twice in one section (libuci keeps the last);
//! - `package` anywhere but before the first `config` (libuci starts another package there);
//! - a `;` right after an unquoted word with more on the line (libuci drops the rest of the line);
//! - a NUL byte (libuci reads the next line into the value).
//!
//! Values are bytes to libuci; lango reads a value that is not UTF-8 with U+FFFD in its place
//! and notes the line (`UciFile::not_utf8`), never refusing the file for it.

use std::fmt;

/// A parsed file: what libuci would hold in memory after loading it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UciFile {
    /// The `package <name>` statement, if the file has one.
    pub package: Option<String>,
    /// In file order. A named section that appears twice is merged into its first appearance.
    pub sections: Vec<Section>,
    /// The lines of values that were not UTF-8 (read with U+FFFD in place of the bad bytes).
    pub not_utf8: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    /// The section type: `package` in `config package 'hour'`.
    pub kind: String,
    /// `hour` in `config package 'hour'`; `None` for an anonymous section.
    pub name: Option<String>,
    /// Where the (first) `config` statement starts.
    pub line: u32,
    /// In the order they were first set.
    pub options: Vec<UciOption>,
}

/// One option or list. An `option` statement replaces every earlier value, a `list` statement
/// appends one, exactly as libuci's `uci_set` and `uci_add_list` do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UciOption {
    pub name: String,
    /// Never empty.
    pub values: Vec<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Value {
    /// With quotes and escapes removed. Empty for `option name ''`, which libuci treats as unset.
    pub text: String,
    /// Where the statement that set it starts.
    pub line: u32,
    /// Set by `list` rather than `option`.
    pub list: bool,
}

/// A syntax problem, for the owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UciError {
    pub line: u32,
    pub message: String,
}

impl fmt::Display for UciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses UCI text; see `parse_bytes`.
pub fn parse(text: &str) -> (UciFile, Vec<UciError>) {
    parse_bytes(text.as_bytes())
}

/// Parses the bytes of a UCI file. Returns everything that could be understood, and every
/// problem found, in line order. After a problem the rest of its line is skipped, as libuci does
/// when it is not strict; the `uci` program is strict and refuses the whole file instead.
///
/// libuci reads bytes, not text, so a value may hold bytes that are not UTF-8 (a hand edit in
/// Latin-1, say). lango keeps such a value with U+FFFD in place of each bad sequence and notes
/// its line in `UciFile::not_utf8` rather than refusing the file: an accent in the brand name
/// must not stop the portal or lock the owner page. Names and section types are ASCII anyway.
pub fn parse_bytes(bytes: &[u8]) -> (UciFile, Vec<UciError>) {
    let mut reader = Reader {
        input: bytes,
        next: 0,
        buf: Vec::new(),
        pos: 0,
        segments: Vec::new(),
        line: 0,
        nul_lines: Vec::new(),
    };
    let mut file = UciFile::default();
    let mut errors = Vec::new();
    let mut current = Current::BeforeFirst;
    while reader.next < reader.input.len() {
        reader.pos = 0;
        reader.segments.clear();
        reader.getln(0);
        // A line with a NUL is reported once below; libuci would garble it, lango skips it.
        if reader.at(0) == 0 || reader.nul_lines.last() == Some(&reader.line) {
            continue;
        }
        if let Err(error) = reader.statements(&mut file, &mut current) {
            errors.push(error);
        }
    }
    for line in reader.nul_lines {
        let message = "a NUL byte: uci ends the value there and reads the next line into it; \
                       remove it"
            .to_string();
        errors.push(UciError { line, message });
    }
    file.not_utf8.dedup();
    errors.sort_by_key(|error| error.line);
    (file, errors)
}

/// Which section `option` and `list` statements go into.
#[derive(Clone, Copy)]
enum Current {
    BeforeFirst,
    Section(usize),
    /// After a `config` statement with a mistake: its options are dropped without comment.
    Discard,
}

impl UciFile {
    fn package(&mut self, name: String, current: Current) -> Result<(), String> {
        // libuci starts a new package at a `package` line, so sections after it would not
        // belong to this file's package at all.
        if !matches!(current, Current::BeforeFirst) || self.package.is_some() {
            return Err("'package' may only appear once, before the first 'config'".into());
        }
        self.package = Some(name);
        Ok(())
    }

    fn config(&mut self, kind: String, name: String, line: u32) -> Result<Current, String> {
        // An empty name (`config package ''`) makes an anonymous section, as in libuci.
        if !name.is_empty() {
            let found = self
                .sections
                .iter()
                .position(|s| s.name.as_ref() == Some(&name));
            if let Some(idx) = found {
                let first = &self.sections[idx];
                if first.kind != kind {
                    let (kind, line) = (&first.kind, first.line);
                    return Err(format!(
                        "section '{name}' is already a '{kind}' section (line {line})"
                    ));
                }
                return Ok(Current::Section(idx));
            }
        }
        self.sections.push(Section {
            kind,
            name: Some(name).filter(|name| !name.is_empty()),
            line,
            options: Vec::new(),
        });
        Ok(Current::Section(self.sections.len() - 1))
    }

    fn option(
        &mut self,
        current: Current,
        name: String,
        text: String,
        line: u32,
        list: bool,
    ) -> Result<(), String> {
        let section = match current {
            Current::BeforeFirst => {
                let keyword = if list { "list" } else { "option" };
                return Err(format!("'{keyword}' before the first 'config'"));
            }
            Current::Discard => return Ok(()),
            Current::Section(idx) => &mut self.sections[idx],
        };
        let value = Value { text, line, list };
        let Some(option) = section.options.iter_mut().find(|o| o.name == name) else {
            section.options.push(UciOption {
                name,
                values: vec![value],
            });
            return Ok(());
        };
        if list {
            option.values.push(value);
            return Ok(());
        }
        // libuci keeps the last value silently. lango keeps it too, but reports the repeat,
        // since a second `option` line is almost always a forgotten edit.
        let first = option.values.first().map_or(line, |value| value.line);
        option.values = vec![value];
        Err(format!("option '{name}' is already set on line {first}"))
    }
}

/// libuci's uci_validate_str: letters, digits and `_` in names, plus `-` in package names;
/// a section type may hold any printable ASCII character but space.
fn is_name(text: &[u8], kind: NameKind) -> bool {
    let ok = |b: u8| match kind {
        NameKind::Name => b.is_ascii_alphanumeric() || b == b'_',
        NameKind::Package => b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
        NameKind::Type => (33..=126).contains(&b),
    };
    !text.is_empty() && text.iter().all(|&b| ok(b))
}

#[derive(Clone, Copy)]
enum NameKind {
    Name,
    Package,
    Type,
}

fn too_many(keyword: &str) -> String {
    format!("too many words after '{keyword}' (put quotes around a value that contains spaces)")
}

/// Bytes shown to the owner: invalid UTF-8 as U+FFFD, control characters escaped.
fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).escape_debug().to_string()
}

/// C's `isspace` in the C locale, which libuci uses between words.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// libuci's parser (`file.c`: uci_getln, parse_str, next_arg, uci_parse_line ...) transcribed
/// onto a byte buffer, so that every quirk is the same: the line buffer that a backslash or an
/// open quote extends with the next line, NUL bytes written over it to end words, the first
/// word split off at a space or tab only (`strtok`), the other words at any `isspace` character.
/// Reads past the end of the buffer give 0, as the NUL after C's buffer would.
struct Reader<'a> {
    input: &'a [u8],
    /// The next unread byte of `input`.
    next: usize,
    /// The current line, plus the lines a backslash or a quote pulled in.
    buf: Vec<u8>,
    pos: usize,
    /// The physical lines in `buf`: (offset in `buf`, offset in `input`, line number).
    segments: Vec<(usize, usize, u32)>,
    /// The number of the last line read.
    line: u32,
    nul_lines: Vec<u32>,
}

/// Where the words of a statement come from, for messages.
struct Statement {
    keyword: &'static str,
    line: u32,
}

impl Statement {
    fn error(&self, message: impl Into<String>) -> UciError {
        UciError {
            line: self.line,
            message: message.into(),
        }
    }
}

impl Reader<'_> {
    fn at(&self, idx: usize) -> u8 {
        self.buf.get(idx).copied().unwrap_or(0)
    }

    fn cur(&self) -> u8 {
        self.at(self.pos)
    }

    fn set(&mut self, idx: usize, byte: u8) {
        if let Some(slot) = self.buf.get_mut(idx) {
            *slot = byte;
        }
    }

    /// The NUL-terminated string at `idx`.
    fn str_at(&self, idx: usize) -> &[u8] {
        let rest = self.buf.get(idx..).unwrap_or_default();
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..len]
    }

    /// The line number of a position in `buf`.
    fn line_of(&self, idx: usize) -> u32 {
        let seg = self.segments.iter().rev().find(|seg| seg.0 <= idx);
        seg.map_or(self.line, |seg| seg.2)
    }

    /// uci_getln: the next line of input (with its newline) into the buffer at `offset`.
    fn getln(&mut self, offset: usize) {
        self.set(offset, 0);
        let rest = self.input.get(self.next..).unwrap_or_default();
        if rest.is_empty() {
            return;
        }
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |n| n + 1);
        let line = &rest[..len];
        self.line += 1;
        if line.contains(&0) {
            self.nul_lines.push(self.line);
        }
        self.buf.resize(offset, 0);
        self.buf.extend_from_slice(line);
        self.segments.push((offset, self.next, self.line));
        self.next += len;
    }

    fn skip_whitespace(&mut self) {
        while self.cur() != 0 && is_space(self.cur()) {
            self.pos += 1;
        }
    }

    fn addc(&mut self, target: &mut usize) {
        let byte = self.cur();
        self.set(*target, byte);
        *target += 1;
        self.pos += 1;
    }

    /// uci_parse_line: the statements of one line.
    fn statements(&mut self, file: &mut UciFile, current: &mut Current) -> Result<(), UciError> {
        self.skip_whitespace();
        loop {
            // strtok(pos, " \t"): the keyword ends at a space or a tab, nothing else.
            let mut start = self.pos;
            while matches!(self.at(start), b' ' | b'\t') {
                start += 1;
            }
            if self.at(start) == 0 {
                return Ok(());
            }
            let mut end = start;
            while !matches!(self.at(end), 0 | b' ' | b'\t') {
                end += 1;
            }
            self.set(end, 0);
            let word = self.buf.get(start..end).unwrap_or_default().to_vec();
            let line = self.line_of(start);
            let keyword = match word.as_slice() {
                [b'#', ..] => return Ok(()),
                b"p" | b"package" => "package",
                b"c" | b"config" => "config",
                b"o" | b"option" => "option",
                b"l" | b"list" => "list",
                _ => {
                    // `config\n` or `config\vx` is a broken `config` line all the same.
                    let cut = word.iter().position(|&b| is_space(b)).unwrap_or(word.len());
                    if keyword(&word[..cut]) == Some("config") {
                        *current = Current::Discard;
                    }
                    let message = unknown(&word);
                    return Err(UciError { line, message });
                }
            };
            let st = Statement { keyword, line };
            if keyword == "config" {
                // Until this line is known to be good, the options after it have nowhere to
                // go: they must not land in the previous section and cause confusing errors.
                *current = Current::Discard;
            }
            if matches!(keyword, "option" | "list") && matches!(current, Current::BeforeFirst) {
                return Err(st.error(format!("'{keyword}' before the first 'config'")));
            }
            // uci_increase_pos(strlen(pos) + 1): past the keyword and the NUL after it.
            let len = self.str_at(self.pos).len();
            if self.pos + len + 1 > self.buf.len() {
                return Err(st.error(needs(keyword)));
            }
            self.pos += len + 1;
            match keyword {
                "package" => {
                    let name = self.next_arg(&st, true)?;
                    if !is_name(&name, NameKind::Package) {
                        let name = shown(&name);
                        return Err(st.error(format!("'{name}' is not a valid package name")));
                    }
                    self.end_of_statement(&st)?;
                    let name = String::from_utf8_lossy(&name).into_owned();
                    file.package(name, *current).map_err(|e| st.error(e))?;
                }
                "config" => {
                    let kind = self.next_arg(&st, true)?;
                    if !is_name(&kind, NameKind::Type) {
                        let kind = shown(&kind);
                        return Err(st.error(format!("'{kind}' is not a valid section type")));
                    }
                    let name = self.next_arg(&st, false)?;
                    self.check_name(&st, &name)?;
                    self.end_of_statement(&st)?;
                    let kind = String::from_utf8_lossy(&kind).into_owned();
                    let name = String::from_utf8_lossy(&name).into_owned();
                    *current = file.config(kind, name, line).map_err(|e| st.error(e))?;
                }
                _ => {
                    let name = self.next_arg(&st, true)?;
                    self.check_name(&st, &name)?;
                    let value = self.next_arg(&st, false)?;
                    self.end_of_statement(&st)?;
                    let name = String::from_utf8_lossy(&name).into_owned();
                    let text = match String::from_utf8(value) {
                        Ok(text) => text,
                        Err(e) => {
                            file.not_utf8.push(line);
                            String::from_utf8_lossy(e.as_bytes()).into_owned()
                        }
                    };
                    let list = keyword == "list";
                    (file.option(*current, name, text, line, list)).map_err(|e| st.error(e))?;
                }
            }
        }
    }

    fn check_name(&self, st: &Statement, name: &[u8]) -> Result<(), UciError> {
        match name.is_empty() || is_name(name, NameKind::Name) {
            true => Ok(()),
            false => Err(st.error(format!(
                "'{}' is not a valid name (use only letters, digits and _)",
                shown(name)
            ))),
        }
    }

    /// assert_eol in strict mode, as the `uci` program runs: no word may follow.
    fn end_of_statement(&mut self, st: &Statement) -> Result<(), UciError> {
        self.skip_whitespace();
        let extra = self.next_arg(st, false)?;
        match extra.is_empty() {
            true => Ok(()),
            false => Err(st.error(too_many(st.keyword))),
        }
    }

    /// next_arg: the next word, quotes and escapes removed; empty at the end of the statement.
    fn next_arg(&mut self, st: &Statement, required: bool) -> Result<Vec<u8>, UciError> {
        self.skip_whitespace();
        let val = self.pos;
        if self.cur() == b';' {
            self.set(self.pos, 0);
            self.pos += 1;
        } else {
            let mut target = val;
            self.parse_str(st, &mut target)?;
        }
        let word = self.str_at(val).to_vec();
        if word.is_empty() && required {
            return Err(st.error(needs(st.keyword)));
        }
        Ok(word)
    }

    /// parse_str: one word, its unquoted, quoted and escaped pieces run together until
    /// whitespace, `;` or `#` outside quotes. The word is written back over the buffer at
    /// `target` and ended with a NUL.
    fn parse_str(&mut self, st: &Statement, target: &mut usize) -> Result<(), UciError> {
        let mut next = true;
        loop {
            match self.cur() {
                b'\'' => self.quoted(b'\'', target)?,
                b'"' => self.quoted(b'"', target)?,
                b'#' => {
                    self.set(self.pos, 0);
                    break;
                }
                0 => break,
                b';' => {
                    next = false;
                    break;
                }
                b'\\' => {
                    if self.backslash() {
                        self.addc(target);
                    }
                }
                _ => self.addc(target),
            }
            if self.cur() == 0 || is_space(self.cur()) {
                break;
            }
        }
        if self.cur() != 0 && next {
            self.pos += 1;
        }
        if !next && *target == self.pos {
            // The NUL that ends this word lands on the `;`, so libuci never sees the rest of
            // the line. It drops it without a word; lango refuses rather than lose options.
            let rest = self.str_at(self.pos + 1);
            let start = rest.iter().position(|&b| !is_space(b));
            if start.is_some_and(|idx| rest[idx] != b'#') {
                return Err(st.error(
                    "uci ignores the rest of the line after a ';' that follows a word \
                     directly: put a space before the ';', or start a new line",
                ));
            }
        }
        self.set(*target, 0);
        Ok(())
    }

    /// parse_single_quote and parse_double_quote. Single quotes take everything literally; in
    /// double quotes a backslash makes the next character literal. Both may span lines.
    fn quoted(&mut self, quote: u8, target: &mut usize) -> Result<(), UciError> {
        let open = self.pos;
        self.pos += 1;
        loop {
            match self.cur() {
                b if b == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                0 => {
                    self.getln(self.pos);
                    if self.cur() == 0 {
                        return Err(self.unterminated(open, quote));
                    }
                }
                b'\\' if quote == b'"' => {
                    if self.backslash() {
                        self.addc(target);
                    }
                }
                _ => self.addc(target),
            }
        }
    }

    /// A quote that runs to the end of the file. Parsing resumes on the line after the opening
    /// quote, so that the rest of the file is still checked: most likely only the closing quote
    /// is missing.
    fn unterminated(&mut self, open: usize, quote: u8) -> UciError {
        let seg = self.segments.iter().rev().find(|seg| seg.0 <= open);
        let (buf_start, input_start, line) = seg.copied().unwrap_or((0, 0, self.line));
        let from = input_start + (open - buf_start);
        let rest = self.input.get(from..).unwrap_or_default();
        self.next = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.input.len(), |n| from + n + 1);
        self.line = line;
        let quote = char::from(quote);
        UciError {
            line,
            message: format!("unterminated quote: the {quote} on this line is never closed"),
        }
    }

    /// parse_backslash: false for a backslash at the end of the line, which pulls the next line
    /// into the buffer in its place (the word goes on only if that line does not start with
    /// whitespace); true if the character after it is to be taken literally.
    fn backslash(&mut self) -> bool {
        self.pos += 1;
        let c = self.cur();
        let crlf = c == b'\r' && self.at(self.pos + 1) == b'\n' && self.at(self.pos + 2) == 0;
        if c == 0 || c == b'\n' || crlf {
            self.getln(self.pos);
            return false;
        }
        true
    }
}

/// What a statement needs when its words run out.
fn needs(keyword: &str) -> String {
    match keyword {
        "package" => "'package' needs a name, like: package 'lango'".into(),
        "config" => "'config' needs a section type, like: config package 'hour'".into(),
        _ => format!("'{keyword}' needs a name and a value, like: {keyword} name 'value'"),
    }
}

/// The message for a first word that is not a keyword.
fn unknown(word: &[u8]) -> String {
    let bare: Vec<u8> = word
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\'' | b'"' | b'\\'))
        .collect();
    if bare.len() < word.len() && keyword(&bare).is_some() {
        return format!("'{}' must be written without quotes", shown(&bare));
    }
    // `config\v...`: the keyword ends at a space or a tab only.
    let cut = word.iter().position(|&b| is_space(b)).unwrap_or(word.len());
    if let Some(keyword) = keyword(&word[..cut]) {
        if word[cut..].iter().all(|&b| is_space(b)) {
            return needs(keyword);
        }
        return format!(
            "only a space or a tab may follow '{keyword}' (uci refuses {})",
            shown(&word[cut..cut + 1])
        );
    }
    format!(
        "unknown statement '{}' (expected config, option or list)",
        shown(word)
    )
}

fn keyword(word: &[u8]) -> Option<&'static str> {
    match word {
        b"p" | b"package" => Some("package"),
        b"c" | b"config" => Some("config"),
        b"o" | b"option" => Some("option"),
        b"l" | b"list" => Some("list"),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
