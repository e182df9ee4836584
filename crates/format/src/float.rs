//! Postgres's float4 output format (`float_to_shortest_decimal_bufn`): the shortest digits
//! that read back to the same float, written in fixed notation when the decimal exponent
//! is in -4..=5 and as `d.ddde±XX` otherwise. pgvector prints every element this way, so
//! `[1e-05,0.0001,123456,1.234567e+06]` must come out byte for byte identical.

use std::fmt::Write;

/// A stack buffer for Rust's `{:e}` output: long enough for any f32 (`-1.17549435e-38`).
struct SciBuf {
    bytes: [u8; 32],
    len: usize,
}

impl Write for SciBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Append `value` to `out` exactly as Postgres prints a float4 with the default
/// `extra_float_digits = 1`.
pub fn push_f32(out: &mut String, value: f32) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's LowerExp prints the shortest round-trip digits (like Ryu): "-1.2345e-5".
    let mut sci = SciBuf {
        bytes: [0; 32],
        len: 0,
    };
    write!(sci, "{value:e}").expect("an f32 in scientific notation fits 32 bytes");
    let text = &sci.bytes[..sci.len];
    let (negative, text) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let e_pos = text
        .iter()
        .position(|&b| b == b'e')
        .expect("LowerExp always has an exponent");
    let exponent: i32 = std::str::from_utf8(&text[e_pos + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("LowerExp exponent is an integer");
    let mut digits = [0u8; 16];
    let mut ndigits = 0;
    for &b in &text[..e_pos] {
        if b != b'.' {
            digits[ndigits] = b;
            ndigits += 1;
        }
    }
    let digits = &digits[..ndigits];
    // SAFETY-free: all pushed bytes are ASCII digits, '.', '-', '+', 'e'.
    if negative {
        out.push('-');
    }
    if (-4..6).contains(&exponent) {
        push_fixed(out, digits, exponent);
    } else {
        push_scientific(out, digits, exponent);
    }
}

fn push_fixed(out: &mut String, digits: &[u8], exponent: i32) {
    if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        push_ascii(out, digits);
        return;
    }
    let int_len = exponent as usize + 1;
    if digits.len() <= int_len {
        push_ascii(out, digits);
        for _ in digits.len()..int_len {
            out.push('0');
        }
    } else {
        push_ascii(out, &digits[..int_len]);
        out.push('.');
        push_ascii(out, &digits[int_len..]);
    }
}

fn push_scientific(out: &mut String, digits: &[u8], exponent: i32) {
    push_ascii(out, &digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        push_ascii(out, &digits[1..]);
    }
    out.push('e');
    out.push(if exponent < 0 { '-' } else { '+' });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    write!(out, "{magnitude}").expect("writing to a String cannot fail");
}

fn push_ascii(out: &mut String, bytes: &[u8]) {
    out.push_str(std::str::from_utf8(bytes).expect("digits are ASCII"));
}

/// Convenience for tests and callers that want a fresh string.
pub fn f32_to_string(value: f32) -> String {
    let mut s = String::new();
    push_f32(&mut s, value);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Expected strings were printed by PostgreSQL 15 (`SELECT v::float4::text`).
    #[test]
    fn matches_postgres() {
        let cases: &[(f32, &str)] = &[
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (0.0001234, "0.0001234"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (100000.0, "100000"),
            (1e38, "1e+38"),
            (3.4e38, "3.4e+38"),
            (1e-45, "1e-45"),
            (-0.0, "-0"),
            (0.0, "0"),
            (0.1, "0.1"),
            (16777216.0, "1.6777216e+07"),
            (1e7, "1e+07"),
            (12345678.0, "1.2345678e+07"),
            (999999.0, "999999"),
            (1.5e-40, "1.5e-40"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (1.5, "1.5"),
            (123.456, "123.456"),
            (f32::NAN, "NaN"),
            (f32::INFINITY, "Infinity"),
            (f32::NEG_INFINITY, "-Infinity"),
        ];
        for &(value, expected) in cases {
            assert_eq!(f32_to_string(value), expected, "{value:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(bits in any::<u32>()) {
            let value = f32::from_bits(bits);
            prop_assume!(value.is_finite());
            let text = f32_to_string(value);
            let back: f32 = text.parse().unwrap();
            prop_assert_eq!(back.to_bits(), value.to_bits());
        }
    }
}
