//! What `lango setup-guest-network [--ssid NAME] [--key PASS] [--undo]` (and the owner page's
//! button) asks for, checked before anything runs: an SSID the radios take, a WPA2 passphrase,
//! so that no text the shell or uci would misread reaches `adapters::guest_network`, which runs
//! `/usr/share/lango/guest-network.sh` (the edits, with OpenWrt's own `uci`).

/// What the owner asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Setup { ssid: String, key: Option<String> },
    Undo,
}

/// Why the arguments were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError {
    /// An SSID is 1 to 32 bytes of printable text.
    Ssid,
    /// A WPA2 passphrase is 8 to 63 printable ASCII characters.
    Key,
    /// `--undo` takes nothing else.
    UndoWithOptions,
    /// An unknown argument, or a flag without its value.
    Usage,
}

impl ArgError {
    /// What to tell the owner (fixed text: cheaper on the router than formatting).
    pub fn message(self) -> &'static str {
        match self {
            Self::Ssid => "--ssid takes 1 to 32 bytes of text",
            Self::Key => "--key takes 8 to 63 printable ASCII characters",
            Self::UndoWithOptions => "--undo takes no --ssid or --key",
            Self::Usage => "setup-guest-network takes --ssid NAME, --key PASS or --undo",
        }
    }
}

/// Pure: whether the radios take `ssid`.
pub fn ssid_ok(ssid: &str) -> bool {
    !ssid.is_empty() && ssid.len() <= 32 && !ssid.chars().any(char::is_control)
}

/// Pure: the request from the command line (after `setup-guest-network`). Without `--ssid`
/// the SSID is `default_ssid` (the brand name).
pub fn parse(args: &[String], default_ssid: &str) -> Result<Request, ArgError> {
    let (mut ssid, mut key, mut undo) = (None, None, false);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ssid" => ssid = Some(args.next().ok_or(ArgError::Usage)?.clone()),
            "--key" => key = Some(args.next().ok_or(ArgError::Usage)?.clone()),
            "--undo" => undo = true,
            _ => return Err(ArgError::Usage),
        }
    }
    if undo {
        return match (ssid, key) {
            (None, None) => Ok(Request::Undo),
            _ => Err(ArgError::UndoWithOptions),
        };
    }
    let ssid = ssid.unwrap_or_else(|| default_ssid.to_string());
    if !ssid_ok(&ssid) {
        return Err(ArgError::Ssid);
    }
    if let Some(key) = &key {
        if !(8..=63).contains(&key.len()) || !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(ArgError::Key);
        }
    }
    Ok(Request::Setup { ssid, key })
}

/// Pure: the script's arguments for a request.
pub fn script_args(request: &Request) -> Vec<&str> {
    match request {
        Request::Setup { ssid, key } => vec!["setup", ssid, key.as_deref().unwrap_or("")],
        Request::Undo => vec!["undo"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments() {
        let setup = |ssid: &str, key: Option<&str>| Request::Setup {
            ssid: ssid.into(),
            key: key.map(String::from),
        };
        assert_eq!(parse(&[], "Cafe"), Ok(setup("Cafe", None)));
        let given = parse(&args(&["--ssid", "Mama's", "--key", "12345678"]), "x");
        assert_eq!(given, Ok(setup("Mama's", Some("12345678"))));
        assert_eq!(parse(&args(&["--undo"]), "x"), Ok(Request::Undo));
        assert_eq!(parse(&args(&["--ssid", ""]), "x"), Err(ArgError::Ssid));
        assert_eq!(parse(&args(&["--ssid", "a\nb"]), "x"), Err(ArgError::Ssid));
        assert_eq!(
            parse(&args(&["--ssid", &"x".repeat(33)]), "x"),
            Err(ArgError::Ssid)
        );
        assert_eq!(parse(&args(&["--key", "short"]), "x"), Err(ArgError::Key));
        assert_eq!(
            parse(&args(&["--key", "pässwort!"]), "x"),
            Err(ArgError::Key)
        );
        assert_eq!(
            parse(&args(&["--undo", "--ssid", "a"]), "x"),
            Err(ArgError::UndoWithOptions)
        );
        assert_eq!(parse(&args(&["--ssid"]), "x"), Err(ArgError::Usage));
        assert_eq!(parse(&args(&["now"]), "x"), Err(ArgError::Usage));
        assert!(ssid_ok("Mama Cafe") && !ssid_ok(&"x".repeat(33)));
        assert_eq!(
            script_args(&setup("a b", None)),
            ["setup", "a b", ""],
            "an open network passes an empty key"
        );
    }
}
