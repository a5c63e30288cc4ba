//! Parsing of the `--from`/`--to` times investigators type: wall-clock timestamps,
//! offsets from the start of a capture, or raw event-clock nanoseconds.

use anyhow::{bail, Context, Result};

/// Converts a time argument into the capture's event clock (nanoseconds since boot).
///
/// * `2026-11-23T05:37:01Z` or `2026-11-23T05:37:01.5+01:00` — wall-clock time (RFC 3339)
/// * `+90s`, `+1m30s`, `+250ms`, `+2h` — offset from the start of the capture
/// * `123456789012` — nanoseconds since boot, the raw event clock
pub fn parse_time(text: &str, boot_time_ns: u64, start_ts: u64) -> Result<u64> {
    let text = text.trim();
    if let Some(offset) = text.strip_prefix('+') {
        return Ok(start_ts.saturating_add(parse_duration(offset)?));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .with_context(|| format!("{text:?} is too large for a nanosecond timestamp"));
    }
    let wall = chrono::DateTime::parse_from_rfc3339(text).with_context(|| {
        format!(
            "{text:?} is not a time: use RFC 3339 (2026-11-23T05:37:01Z), an offset from \
             the capture start (+90s, +1m30s, +250ms) or nanoseconds since boot"
        )
    })?;
    let wall_ns = wall
        .timestamp_nanos_opt()
        .with_context(|| format!("{text:?} is outside the representable range"))?;
    let wall_ns = u64::try_from(wall_ns).with_context(|| format!("{text:?} is before 1970"))?;
    Ok(wall_ns.saturating_sub(boot_time_ns))
}

/// `1h2m3s`, `250ms`, `10us`, `5ns`, `1.5s`.
pub fn parse_duration(text: &str) -> Result<u64> {
    let mut total: u64 = 0;
    let mut rest = text;
    if rest.is_empty() {
        bail!("empty duration");
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let value: f64 = number
            .parse()
            .with_context(|| format!("{text:?}: {number:?} is not a number"))?;
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => bail!("{text:?}: give a unit (ns, us, ms, s, m, h)"),
            other => bail!("{text:?}: unknown unit {other:?} (use ns, us, ms, s, m, h)"),
        };
        total = total.saturating_add((value * scale).round() as u64);
        rest = tail;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_wall_times_and_raw_clock() {
        let boot = 1_700_000_000_000_000_000;
        assert_eq!(parse_time("+1m30s", boot, 1_000).unwrap(), 90_000_001_000);
        assert_eq!(parse_time("+250ms", boot, 0).unwrap(), 250_000_000);
        assert_eq!(parse_time("42", boot, 7).unwrap(), 42);
        assert_eq!(
            parse_time("2023-11-14T22:13:21Z", boot, 0).unwrap(),
            1_000_000_000
        );
        assert_eq!(parse_duration("1.5s").unwrap(), 1_500_000_000);
    }

    #[test]
    fn nonsense_is_explained() {
        let err = parse_time("yesterday", 0, 0).unwrap_err().to_string();
        assert!(err.contains("RFC 3339"), "{err}");
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("5")
            .unwrap_err()
            .to_string()
            .contains("unit"));
    }
}
