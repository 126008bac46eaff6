//! Schedule expressions as EventBridge takes them: `rate(5 minutes)` and
//! `cron(minutes hours day-of-month month day-of-week year)`, in UTC.

use nimbus_core::time::civil_from_days;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Every so many milliseconds, first one interval after the rule is made.
    Rate(u64),
    Cron(Cron),
}

/// Each field as the set of values it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    /// `None` for `?`.
    days_of_month: Option<Vec<bool>>,
    months: Vec<bool>,
    /// 1 = Sunday … 7 = Saturday, as EventBridge counts; `None` for `?`.
    days_of_week: Option<Vec<bool>>,
    /// Years from 1970; `None` for `*`.
    years: Option<Vec<bool>>,
}

const MONTHS: &[&str] = &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    pub fn parse(expression: &str) -> Result<Schedule, String> {
        let invalid = || "Parameter ScheduleExpression is not valid.".to_owned();
        if let Some(inner) = expression.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
            let (n, unit) = inner.trim().split_once(' ').ok_or_else(invalid)?;
            let n: u64 = n.parse().map_err(|_| invalid())?;
            let unit_ms = match (unit.trim(), n) {
                ("minute", 1) | ("minutes", 2..) => 60_000,
                ("hour", 1) | ("hours", 2..) => 3_600_000,
                ("day", 1) | ("days", 2..) => 86_400_000,
                _ => return Err(invalid()),
            };
            return Ok(Schedule::Rate(n * unit_ms));
        }
        if let Some(inner) = expression.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
            let f: Vec<&str> = inner.split_whitespace().collect();
            if f.len() != 6 || (f[2] == "?") == (f[4] == "?") {
                return Err(invalid());
            }
            let optional = |text: &str, lo, hi, names: &[&str]| -> Result<Option<Vec<bool>>, String> {
                if text == "?" {
                    Ok(None)
                } else {
                    field(text, lo, hi, names).map(Some)
                }
            };
            return Ok(Schedule::Cron(Cron {
                minutes: field(f[0], 0, 59, &[])?,
                hours: field(f[1], 0, 23, &[])?,
                days_of_month: optional(f[2], 1, 31, &[])?,
                months: field(f[3], 1, 12, MONTHS)?,
                days_of_week: optional(f[4], 1, 7, DAYS)?,
                years: if f[5] == "*" { None } else { Some(field(f[5], 1970, 2199, &[])?) },
            }));
        }
        Err(invalid())
    }
}

/// One field: `*`, `5`, `1-5`, `*/10`, `0/15`, `MON-FRI`, lists of these.
fn field(text: &str, lo: u32, hi: u32, names: &[&str]) -> Result<Vec<bool>, String> {
    let unsupported =
        |part: &str| format!("Parameter ScheduleExpression is not valid: '{part}' is not supported by Nimbus");
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(lo + i as u32);
        }
        s.parse::<u32>()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
            .ok_or_else(|| "Parameter ScheduleExpression is not valid.".to_owned())
    };
    let mut allowed = vec![false; (hi - lo + 1) as usize];
    for part in text.split(',') {
        if part.contains(['L', 'W', '#']) && !names.iter().any(|n| part.to_ascii_uppercase().contains(n)) {
            return Err(unsupported(part));
        }
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| unsupported(part))?),
            None => (part, 1),
        };
        let (start, end) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                // `5/15` means from 5 to the end, every 15.
                None if part.contains('/') => (value(r)?, hi),
                None => (value(r)?, value(r)?),
            },
        };
        if start > end {
            return Err(unsupported(part));
        }
        for v in (start..=end).step_by(step as usize) {
            allowed[(v - lo) as usize] = true;
        }
    }
    Ok(allowed)
}

impl Cron {
    /// Whether the minute starting at `epoch_minute` (minutes since the epoch, UTC) matches.
    pub fn matches(&self, epoch_minute: u64) -> bool {
        let minute = (epoch_minute % 60) as usize;
        let hour = ((epoch_minute / 60) % 24) as usize;
        let days = (epoch_minute / 1440) as i64;
        let (year, month, day) = civil_from_days(days);
        // 1970-01-01 was a Thursday; EventBridge counts Sunday as 1.
        let weekday = ((days + 4).rem_euclid(7) + 1) as usize;
        let day_ok = match (&self.days_of_month, &self.days_of_week) {
            (Some(dom), _) => dom[day as usize - 1],
            (None, Some(dow)) => dow[weekday - 1],
            (None, None) => true,
        };
        self.minutes[minute]
            && self.hours[hour]
            && day_ok
            && self.months[month as usize - 1]
            && self.years.as_ref().is_none_or(|y| y.get((year - 1970).max(0) as usize).copied().unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minutes since the epoch of a UTC date and time.
    fn at(y: i64, mo: u32, d: u32, h: u64, mi: u64) -> u64 {
        nimbus_core::time::days_from_civil(y, mo, d) as u64 * 1440 + h * 60 + mi
    }

    #[test]
    fn rates() {
        assert_eq!(Schedule::parse("rate(1 minute)"), Ok(Schedule::Rate(60_000)));
        assert_eq!(Schedule::parse("rate(5 minutes)"), Ok(Schedule::Rate(300_000)));
        assert_eq!(Schedule::parse("rate(2 hours)"), Ok(Schedule::Rate(7_200_000)));
        for bad in ["rate(1 minutes)", "rate(0 minutes)", "rate(5 minute)", "rate(x days)", "every 5m"] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn crons() {
        let Ok(Schedule::Cron(noon)) = Schedule::parse("cron(0 12 * * ? *)") else { panic!() };
        assert!(noon.matches(at(2026, 11, 27, 12, 0)));
        assert!(!noon.matches(at(2026, 11, 27, 12, 1)));
        // 2026-11-27 is a Friday.
        let Ok(Schedule::Cron(weekdays)) = Schedule::parse("cron(0/15 8-17 ? * MON-FRI *)") else { panic!() };
        assert!(weekdays.matches(at(2026, 11, 27, 8, 45)));
        assert!(!weekdays.matches(at(2026, 11, 28, 8, 45)), "Saturday");
        assert!(!weekdays.matches(at(2026, 11, 27, 18, 0)));
        let Ok(Schedule::Cron(first)) = Schedule::parse("cron(30 6 1 JAN,jul ? 2026-2027)") else { panic!() };
        assert!(first.matches(at(2026, 7, 1, 6, 30)));
        assert!(!first.matches(at(2028, 7, 1, 6, 30)));
        for bad in
            ["cron(0 12 * * *)", "cron(0 12 * * 1 *)", "cron(0 12 ? * ? *)", "cron(61 * * * ? *)", "cron(0 12 L * ? *)"]
        {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }
}
