//! Python's text for literal values, as pytest puts it in test ids: `str()` of
//! numbers and pytest's `ascii_escaped` of strings and bytes. Static expansion
//! of `parametrize` must produce exactly what the worker (and pytest) produce at
//! run time, byte for byte; the shared cases in `workers/golden/ids.json` hold
//! both sides to it.

use std::fmt::Write;

/// `str(x)` (= `repr(x)`) of a Python float: the shortest digits that read back
/// as the same float, in fixed notation when the decimal point falls within
/// 16 digits of them (`1.0`, `0.0001`, `123456789.0`), else in scientific
/// notation with a signed, at least two-digit exponent (`1e+16`, `1e-05`).
pub fn float_str(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value == 0.0 {
        return format!("{sign}0.0");
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as Python's repr does.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // The value is 0.<digits> × 10^point.
    let point = exponent + 1;
    let mut out = String::from(sign);
    if -4 < point && point <= 16 {
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
            out.push_str(&digits);
        } else {
            let point = point as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', point - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let exponent = point - 1;
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{exponent_sign}{:02}", exponent.unsigned_abs());
    }
    out
}

/// pytest's `ascii_escaped` of a `str`: `value.encode("unicode_escape")`,
/// then the non-printable ASCII characters that leaves as `\xNN`.
pub fn ascii_escaped_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out
}

/// pytest's `ascii_escaped` of `bytes`: `value.decode("ascii",
/// "backslashreplace")`, then non-printable ASCII as `\xNN` (`\t`, `\n`, `\r`
/// by name). Unlike a `str`, a backslash stays single.
pub fn ascii_escaped_bytes(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value {
        match b {
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b' '..=b'~' => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_as_python_prints_them() {
        for (value, text) in [
            (1.0, "1.0"),
            (2.5, "2.5"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.000123, "0.000123"),
            (123456789.0, "123456789.0"),
            (1.2345678901234568e18, "1.2345678901234568e+18"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (1e22, "1e+22"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-2.75, "-2.75"),
        ] {
            assert_eq!(float_str(value), text, "{value:e}");
        }
    }

    #[test]
    fn strings_and_bytes_are_escaped_as_pytest_does() {
        assert_eq!(ascii_escaped_str("a b"), "a b");
        assert_eq!(ascii_escaped_str("héllo"), "h\\xe9llo");
        assert_eq!(ascii_escaped_str("\u{3028}\u{1F600}"), "\\u3028\\U0001f600");
        assert_eq!(ascii_escaped_str("tab\there\\"), "tab\\there\\\\");
        assert_eq!(ascii_escaped_str("\u{7f}\u{1}"), "\\x7f\\x01");
        assert_eq!(ascii_escaped_bytes(b"\xff\\a\n"), "\\xff\\a\\n");
        assert_eq!(ascii_escaped_bytes(b"\x00\x7f"), "\\x00\\x7f");
    }
}
