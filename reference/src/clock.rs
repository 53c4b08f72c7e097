//! The one clock every timestamp comes from; tests can freeze or advance it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Wall clock in epoch milliseconds: the system's, or a manual one for tests.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A frozen clock starting at `ms`; move it with [`Clock::advance`] or [`Clock::set`].
    pub fn manual(ms: i64) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(ms))))
    }

    /// Now, in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            Some(t) => t.load(Ordering::SeqCst),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, ms: i64) {
        if let Some(t) = &self.0 {
            t.fetch_add(ms, Ordering::SeqCst);
        }
    }

    /// Sets a manual clock (no effect on the system clock).
    pub fn set(&self, ms: i64) {
        if let Some(t) = &self.0 {
            t.store(ms, Ordering::SeqCst);
        }
    }
}

/// Formats epoch ms as Joda's ISO date-time in UTC: `2020-01-30T17:36:28.271Z`.
pub fn iso(ms: i64) -> String {
    use std::fmt::Write;
    let t = to_datetime(ms);
    // Sized once: AQL prints three dates a row, and growing each string cost more than the rest.
    let mut s = String::with_capacity(24);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    );
    s
}

/// Formats epoch ms with an offset without colon, as `?lastModified` and build info do:
/// `2020-01-30T17:36:28.271+0000`.
pub fn iso_no_colon(ms: i64) -> String {
    let s = iso(ms);
    format!("{}+0000", &s[..s.len() - 1])
}

/// Formats epoch ms as an HTTP date (`Last-Modified`).
pub fn http_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000).max(0) as u64;
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// Parses an HTTP date to epoch ms.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64)
}

pub(crate) fn to_datetime(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(iso(1580405788271), "2020-01-30T17:36:28.271Z");
        assert_eq!(iso_no_colon(1580405788271), "2020-01-30T17:36:28.271+0000");
        assert_eq!(http_date(1580405788271), "Thu, 30 Jan 2020 17:36:28 GMT");
        assert_eq!(
            parse_http_date("Thu, 30 Jan 2020 17:36:28 GMT"),
            Some(1580405788000)
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(1000);
        assert_eq!(c.now_ms(), 1000);
        c.advance(5);
        assert_eq!(c.now_ms(), 1005);
    }
}
