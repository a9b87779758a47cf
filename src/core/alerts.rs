//! Alerts to the owner's phone (issue 17), pure: what lango observes at each look (Daraja
//! failing, firewall changes failing, the flash or memory low, payments failing, spoofing, no
//! RADIUS server answering its Status-Server probes)
//! becomes an incident that opens once the condition has held for a while and closes once it
//! has been clear for a while. Each incident is announced once when it opens and once when it
//! closes, whatever the number of looks in between (debounced); the text of both, and the body
//! a webhook receiver takes, are made here. Time and observations in, notices out.

use crate::core::time::Timestamp;

/// What can go wrong, in the order of `Incidents::slots`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Daraja's answers fail in a row (no connection, 5xx, no answer).
    Daraja,
    /// Firewall changes fail and none succeeds.
    Firewall,
    /// The flash is below the headroom kept for sales: new sales are refused.
    Flash,
    /// The router is short of memory.
    Memory,
    /// More prompts fail for the owner's side (account, Daraja) than are paid.
    Payments,
    /// A device used another's address or MAC (a clone candidate).
    Spoofing,
    /// No RADIUS server (primary or backup) answers its Status-Server probes: central codes
    /// cannot be checked and accounting waits on flash. Feature `radius` only.
    #[cfg(feature = "radius")]
    Radius,
}

const ALL: &[Condition] = &[
    Condition::Daraja,
    Condition::Firewall,
    Condition::Flash,
    Condition::Memory,
    Condition::Payments,
    Condition::Spoofing,
    #[cfg(feature = "radius")]
    Condition::Radius,
];

impl Condition {
    fn index(self) -> usize {
        ALL.iter().position(|c| *c == self).unwrap_or(0)
    }

    /// Seconds the condition must hold before its incident opens, and be clear before it
    /// closes. A burst of one kind (spoofing, failed prompts) opens at once and stays one
    /// incident until it has been quiet for a while.
    fn holds(self) -> (i64, i64) {
        match self {
            Condition::Daraja | Condition::Firewall => (120, 120),
            // A silent server is probed again after 30, 60, 120 s ...: two minutes of all
            // servers down is two failed probes each, not one lost datagram.
            #[cfg(feature = "radius")]
            Condition::Radius => (120, 120),
            Condition::Memory => (120, 300),
            Condition::Flash => (0, 600),
            Condition::Payments | Condition::Spoofing => (0, 900),
        }
    }

    fn words(self) -> (&'static str, &'static str) {
        match self {
            Condition::Daraja => ("M-Pesa (Daraja) is not answering", "M-Pesa answers again"),
            Condition::Firewall => ("firewall changes are failing", "the firewall works again"),
            Condition::Flash => (
                "the flash is nearly full: new sales are refused",
                "the flash has room again",
            ),
            Condition::Memory => ("the router is low on memory", "memory is back to normal"),
            Condition::Payments => (
                "M-Pesa prompts are failing more often than they are paid",
                "prompts are paid again",
            ),
            Condition::Spoofing => (
                "a device is using another guest's address or MAC",
                "no more spoofing seen",
            ),
            #[cfg(feature = "radius")]
            Condition::Radius => (
                "the RADIUS server is not answering: central vouchers cannot be checked",
                "the RADIUS server answers again",
            ),
        }
    }
}

/// An incident opened or closed: what the owner is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Opened {
        condition: Condition,
        detail: String,
    },
    Closed {
        condition: Condition,
        lasted_secs: i64,
    },
}

impl Notice {
    /// One line for the owner's phone, beginning with the shop's name.
    pub fn text(&self, shop: &str) -> String {
        match self {
            Notice::Opened { condition, detail } => {
                let (words, _) = condition.words();
                if detail.is_empty() {
                    format!("{shop}: {words}.")
                } else {
                    format!("{shop}: {words} ({detail}).")
                }
            }
            Notice::Closed {
                condition,
                lasted_secs,
            } => {
                let (_, words) = condition.words();
                let minutes = (lasted_secs + 59) / 60;
                format!("{shop}: {words}, after {minutes} min.")
            }
        }
    }
}

/// One condition's state: whether its incident is open, since when, and since when the
/// observations have disagreed with that.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    open: bool,
    opened_at: Timestamp,
    changing_since: Option<Timestamp>,
}

/// Every condition's incident.
#[derive(Clone, Debug, Default)]
pub struct Incidents {
    slots: [Slot; ALL.len()],
}

impl Incidents {
    /// Pure: records that `condition` is `active` (or not) at `now`; the notice to send when
    /// that opens or closes its incident.
    pub fn observe(
        &mut self,
        now: Timestamp,
        condition: Condition,
        active: bool,
        detail: &str,
    ) -> Option<Notice> {
        let slot = &mut self.slots[condition.index()];
        if active == slot.open {
            slot.changing_since = None;
            return None;
        }
        let since = *slot.changing_since.get_or_insert(now);
        let (open_after, close_after) = condition.holds();
        let hold = if active { open_after } else { close_after };
        if now - since < hold {
            return None;
        }
        slot.changing_since = None;
        slot.open = active;
        if active {
            slot.opened_at = since;
            Some(Notice::Opened {
                condition,
                detail: detail.to_string(),
            })
        } else {
            Some(Notice::Closed {
                condition,
                lasted_secs: since - slot.opened_at,
            })
        }
    }

    /// The conditions whose incident is open now.
    #[cfg(test)]
    pub fn open(&self) -> Vec<Condition> {
        ALL.iter()
            .copied()
            .filter(|c| self.slots[c.index()].open)
            .collect()
    }
}

/// How a webhook receiver wants the text: `json` is `{"text": ...}` (Slack-style receivers,
/// Mattermost, a Telegram bot's sendMessage with chat_id in the URL), `text` the bare line
/// (ntfy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

/// Pure: the request body and its content type.
pub fn body(format: Format, text: &str) -> (Vec<u8>, &'static str) {
    match format {
        Format::Json => (
            serde_json::json!({ "text": text }).to_string().into_bytes(),
            "application/json",
        ),
        Format::Text => (text.as_bytes().to_vec(), "text/plain; charset=utf-8"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_opens_after_its_hold_and_is_announced_once_each_way() {
        let mut incidents = Incidents::default();
        let daraja = Condition::Daraja;
        // Failing for less than two minutes: nothing yet.
        assert_eq!(incidents.observe(0, daraja, true, "503"), None);
        assert_eq!(incidents.observe(60, daraja, true, "503"), None);
        let opened = incidents.observe(120, daraja, true, "503");
        assert_eq!(
            opened,
            Some(Notice::Opened {
                condition: daraja,
                detail: "503".into()
            })
        );
        // Still failing: no second notice, however many looks.
        for t in (180..1200).step_by(60) {
            assert_eq!(incidents.observe(t, daraja, true, "503"), None);
        }
        assert_eq!(incidents.open(), [daraja]);
        // One good answer between failures does not close it.
        assert_eq!(incidents.observe(1200, daraja, false, ""), None);
        assert_eq!(incidents.observe(1260, daraja, true, "503"), None);
        // Clear for two minutes: closed once, with how long it lasted.
        assert_eq!(incidents.observe(1320, daraja, false, ""), None);
        assert_eq!(incidents.observe(1380, daraja, false, ""), None);
        assert_eq!(
            incidents.observe(1440, daraja, false, ""),
            Some(Notice::Closed {
                condition: daraja,
                lasted_secs: 1320
            })
        );
        assert_eq!(incidents.observe(1500, daraja, false, ""), None);
        assert!(incidents.open().is_empty());
    }

    #[test]
    fn a_flicker_shorter_than_the_hold_is_never_announced() {
        let mut incidents = Incidents::default();
        for t in (0..3600).step_by(60) {
            let active = (t / 60) % 2 == 0;
            assert_eq!(incidents.observe(t, Condition::Memory, active, ""), None);
        }
    }

    #[test]
    fn a_burst_opens_at_once_and_stays_one_incident_until_quiet() {
        let mut incidents = Incidents::default();
        let spoof = Condition::Spoofing;
        assert!(incidents.observe(0, spoof, true, "aa:bb").is_some());
        assert_eq!(incidents.observe(300, spoof, true, "aa:bb"), None);
        assert_eq!(incidents.observe(600, spoof, false, ""), None);
        assert_eq!(incidents.observe(1200, spoof, true, "cc:dd"), None);
        assert_eq!(incidents.observe(1260, spoof, false, ""), None);
        assert!(incidents.observe(2160, spoof, false, "").is_some());
    }

    #[test]
    fn texts_and_bodies() {
        let opened = Notice::Opened {
            condition: Condition::Flash,
            detail: "248 KiB free".into(),
        };
        assert_eq!(
            opened.text("Mama Mboga"),
            "Mama Mboga: the flash is nearly full: new sales are refused (248 KiB free)."
        );
        let closed = Notice::Closed {
            condition: Condition::Daraja,
            lasted_secs: 61,
        };
        assert_eq!(
            closed.text("Cafe"),
            "Cafe: M-Pesa answers again, after 2 min."
        );
        let (json, kind) = body(Format::Json, "a \"quoted\" line");
        assert_eq!(
            (String::from_utf8(json).unwrap(), kind),
            (
                r#"{"text":"a \"quoted\" line"}"#.to_string(),
                "application/json"
            )
        );
        assert_eq!(body(Format::Text, "x").0, b"x");
    }
}
