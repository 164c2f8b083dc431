//! Status codes (RFC 3463) and what a recipient's Action and Status mean for its address.

/// What a recipient's report actually does, from its `Action` field (RFC 3464 2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The message could not be delivered and the MTA has given up.
    Failed,
    /// Not delivered yet; the MTA keeps trying.
    Delayed,
    /// Delivered to the recipient's mailbox.
    Delivered,
    /// Passed on to a system that sends no reports of its own.
    Relayed,
    /// Delivered, and passed on to the several addresses of an alias or list.
    Expanded,
}

impl Action {
    /// The action named by the first word of an `Action` value, in any case
    /// (`failed`, `delivered (to mailbox)`).
    pub(crate) fn from_field(value: &str) -> Option<Action> {
        let word = value
            .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
            .next()
            .unwrap_or("");
        Some(match word.to_ascii_lowercase().as_str() {
            "failed" => Action::Failed,
            "delayed" => Action::Delayed,
            "delivered" => Action::Delivered,
            "relayed" => Action::Relayed,
            "expanded" => Action::Expanded,
            _ => return None,
        })
    }
}

/// What a report means for the address it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The address does not take mail and will not: stop sending to it.
    Hard,
    /// This message did not get through (yet), but the address may well work later.
    Soft,
    /// Not a bounce: delivered, relayed or expanded.
    None,
}

/// Permanent-failure statuses that say nothing against the address itself, so count as
/// soft (see the crate documentation): X.2.2 mailbox full, X.2.3 message longer than the
/// mailbox accepts, X.3.1 mail system full, X.3.4 message too big for the system.
const SOFT_PERMANENT: [(u16, u16); 4] = [(2, 2), (2, 3), (3, 1), (3, 4)];

/// A status code `class.subject.detail` (RFC 3463): class 2, 4 or 5, then one to three digits
/// twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl StatusCode {
    pub(crate) fn parse(code: &str) -> Option<StatusCode> {
        let mut parts = code.split('.');
        let class = match parts.next()? {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return None,
        };
        let subject = number(parts.next()?)?;
        let detail = number(parts.next()?)?;
        match parts.next() {
            Some(_) => None,
            None => Some(StatusCode {
                class,
                subject,
                detail,
            }),
        }
    }

    /// The severity of a recipient with this status and `action`:
    /// failed with 5.x.x is hard, except the statuses of [`SOFT_PERMANENT`];
    /// failed with 4.x.x (or a contradictory 2.x.x) and delayed are soft;
    /// delivered, relayed and expanded are none.
    pub(crate) fn severity(self, action: Action) -> Severity {
        match action {
            Action::Delivered | Action::Relayed | Action::Expanded => Severity::None,
            Action::Delayed => Severity::Soft,
            Action::Failed
                if self.class == 5 && !SOFT_PERMANENT.contains(&(self.subject, self.detail)) =>
            {
                Severity::Hard
            }
            Action::Failed => Severity::Soft,
        }
    }
}

fn number(digits: &str) -> Option<u16> {
    if (1..=3).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        for good in ["5.1.1", "4.4.1", "2.0.0", "5.1.10", "5.999.999", "5.01.001"] {
            assert!(StatusCode::parse(good).is_some(), "{good}");
        }
        for bad in [
            "", "5", "5.1", "5.x", "5.1.1.1", "3.1.1", "5.1.1000", "5..1", "55.1.1", "5.1.+1",
            " 5.1.1", "5.1.1 ",
        ] {
            assert!(StatusCode::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn severities() {
        let s = |code: &str, action| StatusCode::parse(code).unwrap().severity(action);
        assert_eq!(s("5.1.1", Action::Failed), Severity::Hard);
        assert_eq!(s("5.0.0", Action::Failed), Severity::Hard);
        assert_eq!(s("5.7.1", Action::Failed), Severity::Hard);
        assert_eq!(s("5.2.1", Action::Failed), Severity::Hard);
        assert_eq!(s("5.2.2", Action::Failed), Severity::Soft);
        assert_eq!(s("5.02.002", Action::Failed), Severity::Soft);
        assert_eq!(s("5.2.3", Action::Failed), Severity::Soft);
        assert_eq!(s("5.3.1", Action::Failed), Severity::Soft);
        assert_eq!(s("5.3.4", Action::Failed), Severity::Soft);
        assert_eq!(s("4.2.2", Action::Failed), Severity::Soft);
        assert_eq!(s("2.0.0", Action::Failed), Severity::Soft);
        assert_eq!(s("5.1.1", Action::Delayed), Severity::Soft);
        assert_eq!(s("4.4.1", Action::Delayed), Severity::Soft);
        for action in [Action::Delivered, Action::Relayed, Action::Expanded] {
            assert_eq!(s("2.0.0", action), Severity::None);
            assert_eq!(s("5.1.1", action), Severity::None);
        }
    }

    #[test]
    fn actions() {
        assert_eq!(Action::from_field("FAILED"), Some(Action::Failed));
        assert_eq!(
            Action::from_field("delivered (to mailbox)"),
            Some(Action::Delivered)
        );
        assert_eq!(Action::from_field("relayed(x)"), Some(Action::Relayed));
        assert_eq!(Action::from_field("bounced"), None);
        assert_eq!(Action::from_field(""), None);
    }
}
