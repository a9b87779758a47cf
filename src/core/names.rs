//! The names that pages, JSON answers and messages show for states and kinds. Never their
//! `Debug` output: the MIPS builds are compiled with `-Z fmt-debug=none` (31 KB less), where
//! `{:?}` prints nothing. The strings are those the `Debug` output, lowercased, gave before.

use crate::core::config::{MpesaEnvironment, MpesaKind};
use crate::core::payments::{Decline, PaymentState};

impl PaymentState {
    pub fn name(self) -> &'static str {
        match self {
            PaymentState::Initiating => "initiating",
            PaymentState::Pending => "pending",
            PaymentState::Paid => "paid",
            PaymentState::Failed => "failed",
            PaymentState::Cancelled => "cancelled",
            PaymentState::Expired => "expired",
        }
    }
}

impl Decline {
    pub fn name(self) -> &'static str {
        match self {
            Decline::Cancelled => "cancelled",
            Decline::TimedOut => "timedout",
            Decline::WrongPin => "wrongpin",
            Decline::InsufficientFunds => "insufficientfunds",
            Decline::Busy => "busy",
            Decline::Limit => "limit",
            Decline::Merchant => "merchant",
            Decline::Unavailable => "unavailable",
            Decline::Other => "other",
        }
    }
}

impl MpesaEnvironment {
    pub fn name(self) -> &'static str {
        match self {
            MpesaEnvironment::Sandbox => "sandbox",
            MpesaEnvironment::Production => "production",
            MpesaEnvironment::Simulator => "simulator",
        }
    }
}

impl MpesaKind {
    pub fn name(self) -> &'static str {
        match self {
            MpesaKind::PayBill => "paybill",
            MpesaKind::Till => "till",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_what_the_debug_output_lowercased_gave() {
        if format!("{:?}", PaymentState::Paid).is_empty() {
            return; // built with -Z fmt-debug=none (the MIPS targets): nothing to compare
        }
        for s in crate::core::archive::STATES {
            assert_eq!(s.name(), format!("{s:?}").to_lowercase());
        }
        for d in crate::core::archive::DECLINES {
            assert_eq!(d.name(), format!("{d:?}").to_lowercase());
        }
        for e in [
            MpesaEnvironment::Sandbox,
            MpesaEnvironment::Production,
            MpesaEnvironment::Simulator,
        ] {
            assert_eq!(e.name(), format!("{e:?}").to_lowercase());
        }
        for k in [MpesaKind::PayBill, MpesaKind::Till] {
            assert_eq!(k.name(), format!("{k:?}").to_lowercase());
        }
    }
}
