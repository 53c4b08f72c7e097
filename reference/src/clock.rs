//! The one clock every timestamp comes from; tests can freeze or advance it.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

/// Wall clock in epoch milliseconds: the system's (shifted by an offset once set or advanced), or
/// frozen at a value. Clones share one clock, so the control API (`/_reference/clock`) moves the
/// time every part of the server reads.
#[derive(Clone, Debug, Default)]
pub struct Clock(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    frozen: AtomicBool,
    /// The time while frozen.
    at: AtomicI64,
    /// Added to the system time while running.
    offset: AtomicI64,
}

fn system_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A frozen clock starting at `ms`; move it with [`Clock::advance`] or [`Clock::set`].
    pub fn manual(ms: i64) -> Clock {
        let c = Clock::default();
        c.0.at.store(ms, Ordering::SeqCst);
        c.0.frozen.store(true, Ordering::SeqCst);
        c
    }

    /// Now, in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        if self.0.frozen.load(Ordering::SeqCst) {
            self.0.at.load(Ordering::SeqCst)
        } else {
            system_ms() + self.0.offset.load(Ordering::SeqCst)
        }
    }

    /// Whether the clock stands still.
    pub fn is_frozen(&self) -> bool {
        self.0.frozen.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `ms` (backward when negative), frozen or not.
    pub fn advance(&self, ms: i64) {
        if self.is_frozen() {
            self.0.at.fetch_add(ms, Ordering::SeqCst);
        } else {
            self.0.offset.fetch_add(ms, Ordering::SeqCst);
        }
    }

    /// Sets the time to `ms`; a running clock goes on from there.
    pub fn set(&self, ms: i64) {
        if self.is_frozen() {
            self.0.at.store(ms, Ordering::SeqCst);
        } else {
            self.0.offset.store(ms - system_ms(), Ordering::SeqCst);
        }
    }

    /// Stops the clock at the current time.
    pub fn freeze(&self) {
        if !self.is_frozen() {
            self.0.at.store(self.now_ms(), Ordering::SeqCst);
            self.0.frozen.store(true, Ordering::SeqCst);
        }
    }

    /// Lets a frozen clock run again from where it stands.
    pub fn resume(&self) {
        if self.is_frozen() {
            self.0.offset.store(
                self.0.at.load(Ordering::SeqCst) - system_ms(),
                Ordering::SeqCst,
            );
            self.0.frozen.store(false, Ordering::SeqCst);
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
