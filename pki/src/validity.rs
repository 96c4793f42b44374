//! Explicit certificate validity windows.

use time::{Duration, OffsetDateTime};

use crate::PkiError;

/// When a certificate is valid: from `not_before` to `not_after`, both inclusive.
///
/// Always explicit, because rcgen's default (1975 to 4096) is never what anyone wants, and because tests need
/// windows in the past (an expired client) or in the future (a not-yet-valid one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

/// How far back `not_before` is set for windows that start "now": certificates issued on one machine are then
/// accepted by a peer whose clock is a little behind.
const CLOCK_SKEW_ALLOWANCE: Duration = Duration::hours(1);

impl Validity {
    /// A window from `not_before` to `not_after`; refuses an empty or inverted window.
    pub fn new(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<Self, PkiError> {
        if not_after <= not_before {
            return Err(PkiError::EmptyValidity {
                not_before,
                not_after,
            });
        }
        Ok(Self {
            not_before,
            not_after,
        })
    }

    /// A window that starts now (minus one hour of clock-skew allowance) and lasts `days` days.
    pub fn days_from_now(days: u32) -> Result<Self, PkiError> {
        let now = OffsetDateTime::now_utc();
        Self::new(
            now - CLOCK_SKEW_ALLOWANCE,
            now + Duration::days(i64::from(days)),
        )
    }

    /// Start of the window.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// End of the window.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverted_window_is_refused() {
        let now = OffsetDateTime::now_utc();
        let err = Validity::new(now, now - Duration::days(1));
        assert!(matches!(err, Err(PkiError::EmptyValidity { .. })));
        assert!(matches!(
            Validity::new(now, now),
            Err(PkiError::EmptyValidity { .. })
        ));
    }

    #[test]
    fn days_from_now_covers_now_and_lasts_the_requested_days() {
        let v = Validity::days_from_now(30).unwrap();
        let now = OffsetDateTime::now_utc();
        assert!(v.not_before() < now);
        let days = (v.not_after() - now).whole_days();
        assert!((29..=30).contains(&days), "{days}");
    }
}
