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
    let (ndigits, exponent) = postgres_digits(value.abs(), &mut digits, ndigits, exponent);
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

/// Postgres's Ryu differs from Rust's shortest formatting in two ways, both only when the
/// float sits exactly on a decimal tie:
/// - it never prints a number that lies exactly on the boundary of the float's rounding
///   interval (it is built without `STRICTLY_SHORTEST`), so `87931936` prints as
///   `8.7931936e+07`, not `8.793194e+07`, which Rust accepts since it reads back as the same
///   float when ties round to even;
/// - of two equally short candidates exactly halfway from the float, it picks the one with
///   an even last digit (`7.09765625` prints as `7.0976562`, Rust prints `7.0976563`).
///
/// Takes Rust's shortest digits of `value.abs()` and returns Postgres's (digit count and
/// decimal exponent).
fn postgres_digits(value: f32, digits: &mut [u8; 16], n: usize, exponent: i32) -> (usize, i32) {
    let (mut n, mut exponent) = (n, exponent);
    if value == 0.0 {
        return (n, exponent);
    }
    // No other candidate of this length is inside the open interval (Rust would have
    // picked the closer one): add digits, correctly rounded, until one is strictly inside.
    let mut precision = n;
    while on_bound(value, &digits[..n], exponent) && precision < 12 {
        let mut buf = SciBuf {
            bytes: [0; 32],
            len: 0,
        };
        write!(buf, "{:.*e}", precision, value).expect("fits 32 bytes");
        precision += 1;
        let text = &buf.bytes[..buf.len];
        let e_pos = text.iter().position(|&b| b == b'e').expect("has exponent");
        exponent = std::str::from_utf8(&text[e_pos + 1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("integer exponent");
        n = 0;
        for &b in &text[..e_pos] {
            if b != b'.' {
                digits[n] = b;
                n += 1;
            }
        }
        while n > 1 && digits[n - 1] == b'0' {
            n -= 1;
        }
    }
    (round_tie_to_even(value, digits, n, exponent), exponent)
}

/// The integer value of ASCII digits.
fn digits_value(digits: &[u8]) -> u128 {
    digits
        .iter()
        .fold(0u128, |v, &d| v * 10 + (d - b'0') as u128)
}

/// `(mantissa, exponent)` with value = mantissa * 2^exponent, for a finite positive float.
fn decompose(value: f32) -> (u128, i32, bool) {
    let bits = value.to_bits();
    let biased = (bits >> 23) & 0xff;
    if biased == 0 {
        ((bits & 0x7f_ffff) as u128, -149, false)
    } else {
        let fraction = bits & 0x7f_ffff;
        // At a power of two (and above the subnormals) the interval below is half as wide.
        (
            (fraction | 0x80_0000) as u128,
            biased as i32 - 150,
            fraction == 0 && biased > 1,
        )
    }
}

/// Whether the decimal `digits * 10^(exponent - len + 1)` is exactly on a boundary of the
/// rounding interval of `value` (halfway to a neighbouring float).
fn on_bound(value: f32, digits: &[u8], exponent: i32) -> bool {
    let (m, e, narrow_below) = decompose(value);
    let d = digits_value(digits);
    let scale = exponent - digits.len() as i32 + 1;
    let upper = equal(2 * m + 1, e - 1, d, scale);
    let lower = if narrow_below {
        equal(4 * m - 1, e - 2, d, scale)
    } else {
        equal(2 * m - 1, e - 1, d, scale)
    };
    upper || lower
}

/// Of two equally short candidates exactly halfway from `value`, keep the even one.
fn round_tie_to_even(value: f32, digits: &mut [u8; 16], n: usize, exponent: i32) -> usize {
    if n < 2 || (digits[n - 1] - b'0').is_multiple_of(2) {
        return n;
    }
    // The midpoint below: the digits with the last one lowered, then a 5.
    let mid = (digits_value(&digits[..n]) - 1) * 10 + 5;
    let (m, e, _) = decompose(value);
    if !equal(m, e, mid, exponent - n as i32) {
        return n;
    }
    let mut lowered = *digits;
    lowered[n - 1] -= 1;
    let text: String = lowered[..n].iter().map(|&b| b as char).collect();
    let candidate: f32 = match format!("{}e{}", text, exponent - n as i32 + 1).parse() {
        Ok(v) => v,
        Err(_) => return n,
    };
    if candidate != value || on_bound(value, &lowered[..n], exponent) {
        return n;
    }
    *digits = lowered;
    let mut n = n;
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    n
}

/// Whether `m * 2^e == d * 10^scale` exactly (false when the numbers are too large to be
/// equal ones of this size).
fn equal(m: u128, e: i32, d: u128, scale: i32) -> bool {
    let pow = |base: u128, exp: i32| base.checked_pow(exp as u32);
    let mul = |x: Option<u128>, p: Option<u128>| x.zip(p).and_then(|(x, p)| x.checked_mul(p));
    let (mut left, mut right) = (Some(m), Some(d));
    let shift2 = e - scale;
    if shift2 >= 0 {
        left = mul(left, pow(2, shift2));
    } else {
        right = mul(right, pow(2, -shift2));
    }
    if scale >= 0 {
        right = mul(right, pow(5, scale));
    } else {
        left = mul(left, pow(5, -scale));
    }
    matches!((left, right), (Some(l), Some(r)) if l == r)
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
    #[allow(clippy::excessive_precision)] // exact halfway values, on purpose
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
            // Exactly halfway between two shortest candidates: the even one.
            (7.097_656_25, "7.0976562"),
            (5.050_781_25, "5.0507812"),
            (0.455_078_125, "0.45507812"),
            (-4.269_531_25, "-4.2695312"),
            (8.835_937_5, "8.8359375"),
            // The shortest candidate lies exactly on the rounding boundary: one more digit.
            (87_931_936.0, "8.7931936e+07"),
            (-44_566_528.0, "-4.4566528e+07"),
            (104_270_624.0, "1.04270624e+08"),
            (-4_420_832_300.0, "-4.4208323e+09"),
            (288_145_984.0, "2.8814598e+08"),
            (-1_009_084_032.0, "-1.00908403e+09"),
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
