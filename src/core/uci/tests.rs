//! Tests of the UCI grammar, case by case against libuci's behaviour.

use super::*;

/// The parse result as text, one line per section, value and error, for exact comparison.
/// A string as `{:?}` shows it, without `Debug` (the MIPS test builds print nothing for it).
fn q(text: &str) -> String {
    let inner: String = text
        .chars()
        .map(|c| match c {
            '\'' => "'".to_string(),
            c => c.escape_debug().to_string(),
        })
        .collect();
    format!("\"{inner}\"")
}

fn show(text: &str) -> String {
    let (file, errors) = parse(text);
    let mut out = String::new();
    if let Some(package) = &file.package {
        out += &format!("package {package}\n");
    }
    for section in &file.sections {
        let name = match &section.name {
            Some(name) => format!("Some({})", q(name)),
            None => "None".into(),
        };
        out += &format!("{}: config {} {name}\n", section.line, section.kind);
        for option in &section.options {
            for value in &option.values {
                let keyword = if value.list { "list" } else { "option" };
                out += &format!(
                    "  {}: {keyword} {} {}\n",
                    value.line,
                    option.name,
                    q(&value.text)
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
        config package 'p1'; option name '1 Hour'; o price 20\n\
        c brand \"brand\"\n\
        \toption name 'it'\\''s \"ours\"'\n\
        \toption phone \"say \\\"hi\\\" \\\\ \\n\"\n\
        \toption email 'line one\n\
        line two'\n\
        \toption logo /etc/\\\n\
        lango/logo.png\n\
        \toption colour \\\n\
        '#0b6e4f'\n\
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
        8: config package Some(\"p1\")\n\
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
    let expected =
        "package lango-extra\n2: config a Some(\"b\")\n  3: option c \"d\"\n  4: option e \"f\"\n";
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

/// Issue 13, item 11: libuci reads the line after a backslash-newline into the word only if
/// it starts with a non-space; an indented line ends the word and its rest is one word too
/// many, which `uci` refuses.
#[test]
fn r13_backslash_newline_then_an_indented_line_is_refused_like_uci() {
    let text = "config a 'b'\n\toption logo /etc/\\\n\tlango/logo.png\n";
    assert_eq!(
        show(text),
        "1: config a Some(\"b\")\nerror line 2: too many words after 'option' (put quotes \
         around a value that contains spaces)\n"
    );
    let joined = "config a 'b'\n\toption logo /etc/\\\nlango/logo.png\n";
    assert_eq!(
        show(joined),
        "1: config a Some(\"b\")\n  2: option logo \"/etc/lango/logo.png\"\n"
    );
}

/// Issue 13, item 11: the first word of a statement ends at a space or a tab only (libuci's
/// `strtok(" \t")`), so `\v` or `\f` after it is refused; between the other words any
/// `isspace` character separates, as in libuci.
#[test]
fn r13_vertical_tab_and_form_feed_after_the_keyword_are_refused_like_uci() {
    for sep in ["\x0b", "\x0c", "\r"] {
        let text = format!("config a 'b'\n\toption{sep}x y\n");
        let (_, errors) = parse(&text);
        assert_eq!(errors.len(), 1, "{text:?}");
        assert!(
            errors[0].message.contains("only a space or a tab"),
            "{errors:?}"
        );
        let text = format!("config{sep}a 'b'\n");
        assert_eq!(parse(&text).1.len(), 1, "{text:?}");
    }
    let between = "config a 'b'\n\toption x\x0by\x0c\n\tlist l\x0cz\n";
    assert_eq!(
        show(between),
        "1: config a Some(\"b\")\n  2: option x \"y\"\n  3: list l \"z\"\n"
    );
    // Inside quotes a control character is part of the value, for libuci too.
    assert_eq!(
        show("config a 'b'\n\toption x 'p\x0bq'\n"),
        "1: config a Some(\"b\")\n  2: option x \"p\\u{b}q\"\n"
    );
}

/// Issue 13, item 11: a hand-edited byte that is not UTF-8 must not lock anything. libuci
/// takes bytes as they are; lango reads the value with U+FFFD and notes the line.
#[test]
fn r13_a_value_that_is_not_utf8_is_read_with_a_replacement_and_noted() {
    let text = b"config brand 'brand'\n\toption name 'Caf\xe9'\n\toption phone 0700\n";
    let (file, errors) = parse_bytes(text);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(file.sections[0].options[0].values[0].text, "Caf\u{fffd}");
    assert_eq!(file.not_utf8, vec![2]);
    // In a name or a type it is refused, by libuci too (letters are ASCII letters).
    let (_, errors) = parse_bytes(b"config brand 'b\xe9'\nconfig t\xe9\n");
    let lines: Vec<u32> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![1, 2], "{errors:?}");
}

/// libuci writes the NUL that ends an unquoted word over a `;` right after it, and then
/// never sees the rest of the line: `config package; option name x` is an empty section to
/// `uci`. lango refuses instead of losing the options. A `;` after a space or a quote, or
/// with nothing but a comment after it, works as in libuci; ` ;` at the end of a line is an
/// unknown statement (`\n`) to libuci, and to lango.
#[test]
fn a_semicolon_right_after_a_word_is_refused_where_uci_would_drop_the_line() {
    let (_, errors) = parse("config package; option name 'x'\n");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("ignores the rest"), "{errors:?}");
    assert_eq!(
        show("config a b; # note\n\toption x y;\n\toption z 'w'; option v u\n"),
        "1: config a Some(\"b\")\n  2: option x \"y\"\n  3: option z \"w\"\n  3: option v \"u\"\n"
    );
    assert_eq!(parse("config a b\n\toption x y ;\n").1.len(), 1);
    assert_eq!(parse("config a b\n\toption x 'y';\n").1.len(), 1);
}

#[test]
fn a_nul_byte_is_refused() {
    let (_, errors) = parse_bytes(b"config a b\n\toption x 'y\0z'\n\toption w v\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, 2);
    assert!(errors[0].message.contains("NUL"));
}

/// The keyword of a statement after `;` is found past the spaces before it, and a word is
/// never read past the end of the buffer (libuci's uci_increase_pos).
#[test]
fn a_keyword_at_the_end_of_the_file_needs_its_words() {
    assert_eq!(parse("config").1.len(), 1);
    assert_eq!(parse("config a b\noption").1.len(), 1);
    assert_eq!(parse("config a b\n\\").1.len(), 1);
    assert!(parse("config a b\n\toption x \\").1.is_empty());
    assert!(parse("").1.is_empty());
}
