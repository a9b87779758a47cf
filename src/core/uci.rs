//! UCI text (`/etc/config/<name>`) to sections and options, following libuci's `file.c` grammar
//! without running the `uci` program. Pure and total: it never panics, keeps going after a mistake
//! so that every syntax problem in a file is reported at once, and remembers the line of every
//! section and value. It knows nothing about lango's own options; `config` owns those.
//!
//! Where lango is stricter than libuci, so that typos are caught: an `option` set twice in one
//! section is an error (libuci silently keeps the last), and so is reopening a named section with
//! another type (libuci only refuses that in strict mode).

use std::fmt;

/// A parsed file: what libuci would hold in memory after loading it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UciFile {
    /// The `package <name>` statement, if the file has one.
    pub package: Option<String>,
    /// In file order. A named section that appears twice is merged into its first appearance.
    pub sections: Vec<Section>,
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

/// Parses UCI text. Returns everything that could be understood, and every problem found, in
/// line order. A statement with a problem is skipped as a whole.
pub fn parse(text: &str) -> (UciFile, Vec<UciError>) {
    let mut errors = Vec::new();
    let lexer = Lexer {
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    let mut file = UciFile::default();
    let mut current = Current::BeforeFirst;
    for statement in lexer.statements(&mut errors) {
        let Some((keyword, args)) = statement.tokens.split_first() else {
            continue;
        };
        // Like strtok in libuci's uci_parse_line, the keyword is a bare word: quoting or escaping
        // any part of it makes it unknown.
        let word = if keyword.plain {
            keyword.text.as_str()
        } else {
            ""
        };
        let line = statement.line;
        if matches!(word, "config" | "c") {
            // Until this line is known to be good, the options after it have nowhere to go:
            // they must not land in the previous section and cause confusing extra errors.
            current = Current::Discard;
        }
        if statement.broken {
            continue; // The lexer has reported it.
        }
        let result = match word {
            "package" | "p" => file.package(args, current),
            "config" | "c" => file.config(args, line).map(|section| current = section),
            "option" | "o" => file.option(current, args, line, false),
            "list" | "l" => file.option(current, args, line, true),
            _ if !keyword.plain => {
                Err(format!("'{}' must be written without quotes", keyword.text))
            }
            _ => Err(format!(
                "unknown statement '{}' (expected config, option or list)",
                keyword.text
            )),
        };
        if let Err(message) = result {
            errors.push(UciError { line, message });
        }
    }
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
    fn package(&mut self, args: &[Token], current: Current) -> Result<(), String> {
        let name = match args {
            [] => return Err("'package' needs a name, like: package 'lango'".into()),
            [name] => &name.text,
            _ => return Err(too_many("package")),
        };
        // libuci starts a new package at a `package` line, so sections after it would not
        // belong to this file's package at all.
        if !matches!(current, Current::BeforeFirst) || self.package.is_some() {
            return Err("'package' may only appear once, before the first 'config'".into());
        }
        if !is_name(name, true) {
            return Err(format!("'{name}' is not a valid package name"));
        }
        self.package = Some(name.clone());
        Ok(())
    }

    fn config(&mut self, args: &[Token], line: u32) -> Result<Current, String> {
        let (kind, name) = match args {
            [] => return Err("'config' needs a section type, like: config package 'hour'".into()),
            [kind] => (&kind.text, None),
            [kind, name] => (&kind.text, Some(name.text.clone())),
            _ => return Err(too_many("config")),
        };
        if kind.is_empty() || !kind.bytes().all(|b| (33..=126).contains(&b)) {
            return Err(format!("'{kind}' is not a valid section type"));
        }
        // An empty name (`config package ''`) makes an anonymous section, as in libuci.
        let name = name.filter(|name| !name.is_empty());
        if let Some(name) = &name {
            check_name(name)?;
            let found = self
                .sections
                .iter()
                .position(|s| s.name.as_ref() == Some(name));
            if let Some(idx) = found {
                let first = &self.sections[idx];
                if first.kind != *kind {
                    let (kind, line) = (&first.kind, first.line);
                    return Err(format!(
                        "section '{name}' is already a '{kind}' section (line {line})"
                    ));
                }
                return Ok(Current::Section(idx));
            }
        }
        self.sections.push(Section {
            kind: kind.clone(),
            name,
            line,
            options: Vec::new(),
        });
        Ok(Current::Section(self.sections.len() - 1))
    }

    fn option(
        &mut self,
        current: Current,
        args: &[Token],
        line: u32,
        list: bool,
    ) -> Result<(), String> {
        let keyword = if list { "list" } else { "option" };
        let (name, text) = match args {
            [] => {
                return Err(format!(
                    "'{keyword}' needs a name and a value, like: {keyword} name 'value'"
                ))
            }
            [name] => (&name.text, String::new()),
            [name, value] => (&name.text, value.text.clone()),
            _ => return Err(too_many(keyword)),
        };
        let section = match current {
            Current::BeforeFirst => return Err(format!("'{keyword}' before the first 'config'")),
            Current::Discard => return Ok(()),
            Current::Section(idx) => &mut self.sections[idx],
        };
        check_name(name)?;
        let value = Value { text, line, list };
        let Some(option) = section
            .options
            .iter_mut()
            .find(|option| option.name == *name)
        else {
            section.options.push(UciOption {
                name: name.clone(),
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

/// libuci's uci_validate_name: letters, digits and `_`, plus `-` in package names.
fn is_name(text: &str, allow_dash: bool) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || (allow_dash && b == b'-');
    !text.is_empty() && text.bytes().all(ok)
}

fn check_name(name: &str) -> Result<(), String> {
    match is_name(name, false) {
        true => Ok(()),
        false => Err(format!(
            "'{name}' is not a valid name (use only letters, digits and _)"
        )),
    }
}

fn too_many(keyword: &str) -> String {
    format!("too many words after '{keyword}' (put quotes around a value that contains spaces)")
}

/// One word of a statement, quotes and escapes removed.
struct Token {
    text: String,
    line: u32,
    /// Neither quoted nor escaped anywhere: only such a word can be a keyword.
    plain: bool,
}

/// The words between two newlines or `;` outside quotes.
struct Statement {
    tokens: Vec<Token>,
    line: u32,
    /// The lexer reported a problem inside it.
    broken: bool,
}

/// Ends a statement, if it has any words.
fn finish(statements: &mut Vec<Statement>, tokens: &mut Vec<Token>, broken: bool) {
    if let Some(line) = tokens.first().map(|token| token.line) {
        statements.push(Statement {
            tokens: std::mem::take(tokens),
            line,
            broken,
        });
    }
}

/// Works on bytes: every special character is ASCII, so splitting there keeps UTF-8 intact.
struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u32,
}

impl Lexer<'_> {
    fn statements(mut self, errors: &mut Vec<UciError>) -> Vec<Statement> {
        let mut statements = Vec::new();
        let mut tokens = Vec::new();
        let mut broken = false;
        while let Some(&byte) = self.bytes.get(self.pos) {
            let ends_statement = match byte {
                b'\n' | b';' => {
                    self.line += u32::from(byte == b'\n');
                    self.pos += 1;
                    true
                }
                b'#' => {
                    while self.bytes.get(self.pos).is_some_and(|&b| b != b'\n') {
                        self.pos += 1;
                    }
                    false
                }
                // Backslash-newline between words joins the lines, as in a shell.
                b'\\' if self.continuation() => false,
                b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' => {
                    self.pos += 1;
                    false
                }
                _ => match self.token() {
                    Ok(token) => {
                        tokens.push(token);
                        false
                    }
                    Err(error) => {
                        errors.push(error);
                        broken = true;
                        true
                    }
                },
            };
            if ends_statement {
                finish(&mut statements, &mut tokens, broken);
                broken = false;
            }
        }
        finish(&mut statements, &mut tokens, broken);
        statements
    }

    /// Reads one word: unquoted, quoted and escaped pieces run together until whitespace, `;`
    /// or `#` outside quotes (libuci's parse_str).
    fn token(&mut self) -> Result<Token, UciError> {
        let line = self.line;
        let mut out = Vec::new();
        let mut plain = true;
        while let Some(&byte) = self.bytes.get(self.pos) {
            match byte {
                b'\'' | b'"' => {
                    plain = false;
                    self.quoted(byte, &mut out)?;
                }
                b'\\' => {
                    plain = false;
                    if !self.continuation() {
                        self.escaped(&mut out);
                    }
                }
                b'#' | b';' | b'\n' | b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' => break,
                _ => {
                    out.push(byte);
                    self.pos += 1;
                }
            }
        }
        Ok(Token {
            text: String::from_utf8_lossy(&out).into_owned(),
            line,
            plain,
        })
    }

    /// A quoted piece. Single quotes take everything literally; in double quotes a backslash
    /// makes the next character literal. Both may span lines.
    fn quoted(&mut self, quote: u8, out: &mut Vec<u8>) -> Result<(), UciError> {
        let (open_pos, open_line) = (self.pos, self.line);
        self.pos += 1;
        loop {
            match self.bytes.get(self.pos) {
                None => break,
                Some(&b) if b == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') if quote == b'"' => {
                    if !self.continuation() {
                        self.escaped(out);
                    }
                }
                Some(&b) => {
                    self.line += u32::from(b == b'\n');
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        // The quote runs to the end of the file. Resume on the line after the opening quote, so
        // that the rest of the file is still checked; most likely only a closing quote is missing.
        let rest = self.bytes.get(open_pos..).unwrap_or_default();
        let newline = rest.iter().position(|&b| b == b'\n');
        self.pos = newline.map_or(self.bytes.len(), |n| open_pos + n + 1);
        self.line = open_line + 1;
        let quote = char::from(quote);
        let message = format!("unterminated quote: the {quote} on this line is never closed");
        Err(UciError {
            line: open_line,
            message,
        })
    }

    /// Backslash and the character after it, which is taken literally. Backslash-newline never
    /// gets here: `continuation` has taken it.
    fn escaped(&mut self, out: &mut Vec<u8>) {
        self.pos += 1;
        if let Some(&b) = self.bytes.get(self.pos) {
            out.push(b);
            self.pos += 1;
        }
    }

    /// Skips backslash-newline (or backslash-CRLF) if that is what comes next.
    fn continuation(&mut self) -> bool {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let skip = if rest.starts_with(b"\\\n") {
            2
        } else if rest.starts_with(b"\\\r\n") {
            3
        } else {
            return false;
        };
        self.pos += skip;
        self.line += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parse result as text, one line per section, value and error, for exact comparison.
    fn show(text: &str) -> String {
        let (file, errors) = parse(text);
        let mut out = String::new();
        if let Some(package) = &file.package {
            out += &format!("package {package}\n");
        }
        for section in &file.sections {
            out += &format!(
                "{}: config {} {:?}\n",
                section.line, section.kind, section.name
            );
            for option in &section.options {
                for value in &option.values {
                    let keyword = if value.list { "list" } else { "option" };
                    out += &format!(
                        "  {}: {keyword} {} {:?}\n",
                        value.line, option.name, value.text
                    );
                }
            }
        }
        for error in errors {
            out += &format!("error {error}\n");
        }
        out
    }

    #[test]
    fn every_syntax_form() {
        let text = "package lango\n\
            # A comment line.\n\
            config gateway 'main'\n\
            \toption interface lan # A trailing comment.\n\
            \to currency \"KES\"\n\
            \tlist admin_allow '192.168.1.0/24'\n\
            \tl admin_allow 127.0.0.1#A comment inside a word.\n\
            config package; option name '1 Hour'; o price 20 ;\n\
            c brand \"brand\"\n\
            \toption name 'it'\\''s \"ours\"'\n\
            \toption phone \"say \\\"hi\\\" \\\\ \\n\"\n\
            \toption email 'line one\n\
            line two'\n\
            \toption logo /etc/\\\n\
            lango/logo.png\n\
            \toption colour \\\n\
            \t'#0b6e4f'\n\
            config gateway main\n\
            \toption language\n\
            config package ''\n";
        let expected = "package lango\n\
            3: config gateway Some(\"main\")\n\
            \x20 4: option interface \"lan\"\n\
            \x20 5: option currency \"KES\"\n\
            \x20 6: list admin_allow \"192.168.1.0/24\"\n\
            \x20 7: list admin_allow \"127.0.0.1\"\n\
            \x20 19: option language \"\"\n\
            8: config package None\n\
            \x20 8: option name \"1 Hour\"\n\
            \x20 8: option price \"20\"\n\
            9: config brand Some(\"brand\")\n\
            \x20 10: option name \"it's \\\"ours\\\"\"\n\
            \x20 11: option phone \"say \\\"hi\\\" \\\\ n\"\n\
            \x20 12: option email \"line one\\nline two\"\n\
            \x20 14: option logo \"/etc/lango/logo.png\"\n\
            \x20 16: option colour \"#0b6e4f\"\n\
            20: config package None\n";
        assert_eq!(show(text), expected);
    }

    #[test]
    fn every_syntax_mistake_is_reported_and_parsing_goes_on() {
        let text = "option early x\n\
            config\n\
            \toption dropped x\n\
            config package 'a b'\n\
            config gateway main extra\n\
            config gateway main\n\
            \toption 'bad name' x\n\
            \toption interface lan\n\
            \toption interface wan\n\
            \toption a b c\n\
            \tfrobnicate x\n\
            \t'option' x y\n\
            config brand main\n\
            \toption dropped x\n\
            option\n\
            list\n\
            package lango\n\
            config 'bad type'\n\
            config mpesa m\n\
            \toption till '123\n\
            \toption shortcode 174379\n";
        let expected = "6: config gateway Some(\"main\")\n\
            \x20 9: option interface \"wan\"\n\
            19: config mpesa Some(\"m\")\n\
            \x20 21: option shortcode \"174379\"\n\
            error line 1: 'option' before the first 'config'\n\
            error line 2: 'config' needs a section type, like: config package 'hour'\n\
            error line 4: 'a b' is not a valid name (use only letters, digits and _)\n\
            error line 5: too many words after 'config' (put quotes around a value that contains spaces)\n\
            error line 7: 'bad name' is not a valid name (use only letters, digits and _)\n\
            error line 9: option 'interface' is already set on line 8\n\
            error line 10: too many words after 'option' (put quotes around a value that contains spaces)\n\
            error line 11: unknown statement 'frobnicate' (expected config, option or list)\n\
            error line 12: 'option' must be written without quotes\n\
            error line 13: section 'main' is already a 'gateway' section (line 6)\n\
            error line 15: 'option' needs a name and a value, like: option name 'value'\n\
            error line 16: 'list' needs a name and a value, like: list name 'value'\n\
            error line 17: 'package' may only appear once, before the first 'config'\n\
            error line 18: 'bad type' is not a valid section type\n\
            error line 20: unterminated quote: the ' on this line is never closed\n";
        assert_eq!(show(text), expected);
    }

    #[test]
    fn unterminated_quotes_are_reported_where_they_open() {
        // A broken `config` line drops its options instead of adding them to the section above.
        let text = "config a 'one'\n\
            \toption x 1\n\
            config b \"two\n\
            \toption y 2\n\
            config c\n\
            \toption z 'multi\n\
            line' ; option w 'never closed\n";
        let expected = "1: config a Some(\"one\")\n\
            \x20 2: option x \"1\"\n\
            5: config c None\n\
            \x20 6: option z \"multi\\nline\"\n\
            error line 3: unterminated quote: the \" on this line is never closed\n\
            error line 7: unterminated quote: the ' on this line is never closed\n";
        assert_eq!(show(text), expected);
    }

    #[test]
    fn package_line_and_crlf_line_ends() {
        let text = "p lango-extra\r\nconfig a 'b'\r\n\toption c 'd'\r\n\toption e f\r\n";
        let expected = "package lango-extra\n2: config a Some(\"b\")\n  3: option c \"d\"\n  4: option e \"f\"\n";
        assert_eq!(show(text), expected);
        assert_eq!(
            show("package 'bad name'\n"),
            "error line 1: 'bad name' is not a valid package name\n"
        );
        assert_eq!(
            show("package\n"),
            "error line 1: 'package' needs a name, like: package 'lango'\n"
        );
    }

    #[test]
    fn list_after_option_appends_and_option_after_list_replaces() {
        // The same semantics as libuci's uci_add_list and uci_set; `config` decides what is allowed.
        let text = "config a b\n\toption x 1\n\tlist x 2\n\tlist y 3\n\toption y 4\n";
        let expected = "1: config a Some(\"b\")\n\
            \x20 2: option x \"1\"\n\
            \x20 3: list x \"2\"\n\
            \x20 5: option y \"4\"\n\
            error line 5: option 'y' is already set on line 4\n";
        assert_eq!(show(text), expected);
    }
}
