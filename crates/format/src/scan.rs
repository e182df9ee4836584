//! Number scanners with the semantics of C's `strtof` and `strtol` in the "C" locale, which
//! pgvector uses for its literals: they consume the longest valid prefix and report where
//! they stopped, so that `[1,2x]` fails on the `x` and `[0x1p3]` reads as 8.

/// The result of scanning one float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScannedFloat {
    pub value: f32,
    /// Bytes consumed; 0 means no number was found.
    pub len: usize,
    /// The literal was finite but too large for float4 (strtof's ERANGE overflow).
    pub overflow: bool,
    /// The literal had non-zero digits but rounded to zero (strtof's ERANGE underflow).
    pub underflow: bool,
}

/// An optional leading `+` or `-`: (is negative, bytes consumed).
fn optional_sign(s: &[u8]) -> (bool, usize) {
    match s.first() {
        Some(b'+') => (false, 1),
        Some(b'-') => (true, 1),
        _ => (false, 0),
    }
}

/// Scan a float at the start of `s` (no leading whitespace skipped: callers do that).
pub fn scan_f32(s: &[u8]) -> ScannedFloat {
    let none = ScannedFloat {
        value: 0.0,
        len: 0,
        overflow: false,
        underflow: false,
    };
    let (negative, pos) = optional_sign(s);
    let body = &s[pos..];
    // Only a literal starting with i/I/n/N can be inf or nan: skip the word checks otherwise.
    let maybe_special = matches!(body.first(), Some(b'i' | b'I' | b'n' | b'N'));
    if let Some((value, len)) = maybe_special.then(|| scan_special(body)).flatten() {
        let value = if negative { -value } else { value };
        return ScannedFloat {
            value,
            len: pos + len,
            overflow: false,
            underflow: false,
        };
    }
    if body.len() >= 3 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        if let Some((magnitude, len, nonzero)) = scan_hex(&body[2..]) {
            return finish(negative, magnitude, pos + 2 + len, nonzero);
        }
    }
    let Some((len, nonzero)) = scan_decimal(body) else {
        return none;
    };
    let magnitude = match fast_decimal(&body[..len]) {
        Some(value) => value,
        None => {
            let text = std::str::from_utf8(&body[..len]).expect("scanned bytes are ASCII");
            text.parse().expect("scanned text is a valid decimal float")
        }
    };
    finish(negative, magnitude, pos + len, nonzero)
}

fn finish(negative: bool, magnitude: f32, len: usize, nonzero: bool) -> ScannedFloat {
    let value = if negative { -magnitude } else { magnitude };
    ScannedFloat {
        value,
        len,
        overflow: magnitude.is_infinite(),
        underflow: magnitude == 0.0 && nonzero,
    }
}

/// Clinger's fast path, in f64: when the decimal mantissa fits in 53 bits and the power of
/// ten is at most 10^22, both are exact in f64 and one multiplication or division rounds
/// correctly. Narrowing that f64 to f32 is then correct too, except when it landed exactly
/// on a midpoint between two f32s (every f32 midpoint is an f64, so rounding cannot cross
/// one, only hit it): those rare cases go to the general parser. This covers the literals
/// clients send (`0.036304575`, `-1.2345e-3`) and is several times faster than `parse`.
fn fast_decimal(s: &[u8]) -> Option<f32> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let mut mantissa: u64 = 0;
    let mut exponent: i32 = 0;
    let mut pos = 0;
    let mut seen_point = false;
    while pos < s.len() {
        let b = s[pos];
        if b.is_ascii_digit() {
            mantissa = mantissa * 10 + (b - b'0') as u64;
            if mantissa > 1 << 53 {
                return None;
            }
            if seen_point {
                exponent -= 1;
            }
        } else if b == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        pos += 1;
    }
    if pos < s.len() {
        // The exponent part, already validated by scan_decimal: [eE][+-]?digits.
        let mut e = pos + 1;
        let negative = s.get(e) == Some(&b'-');
        if matches!(s.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let mut value: i32 = 0;
        for &b in &s[e..] {
            value = value * 10 + (b - b'0') as i32;
            if value > 100 {
                return None;
            }
        }
        exponent += if negative { -value } else { value };
    }
    let m = mantissa as f64;
    let wide = match exponent {
        0..=22 => m * POW10[exponent as usize],
        -22..=-1 => m / POW10[(-exponent) as usize],
        _ => return None,
    };
    let narrow = wide as f32;
    if narrow.is_infinite() || narrow as f64 == wide {
        return Some(narrow);
    }
    let other = if (narrow as f64) < wide {
        narrow.next_up()
    } else {
        narrow.next_down()
    };
    let midpoint = (narrow as f64 + other as f64) / 2.0;
    (wide != midpoint).then_some(narrow)
}

/// `inf`, `infinity`, `nan`, `nan(chars)` — case-insensitive, as strtof accepts.
fn scan_special(s: &[u8]) -> Option<(f32, usize)> {
    let starts = |word: &[u8]| {
        s.len() >= word.len()
            && s[..word.len()]
                .iter()
                .zip(word)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    };
    if starts(b"infinity") {
        return Some((f32::INFINITY, 8));
    }
    if starts(b"inf") {
        return Some((f32::INFINITY, 3));
    }
    if starts(b"nan") {
        let mut len = 3;
        if s.get(3) == Some(&b'(') {
            if let Some(close) = s[4..]
                .iter()
                .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
            {
                if s[4 + close] == b')' {
                    len = 4 + close + 1;
                }
            }
        }
        return Some((f32::NAN, len));
    }
    None
}

/// Decimal mantissa with optional fraction and exponent; returns (length, any non-zero digit).
fn scan_decimal(s: &[u8]) -> Option<(usize, bool)> {
    let mut pos = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while pos < s.len() && s[pos].is_ascii_digit() {
        nonzero |= s[pos] != b'0';
        pos += 1;
        digits += 1;
    }
    if pos < s.len() && s[pos] == b'.' {
        pos += 1;
        while pos < s.len() && s[pos].is_ascii_digit() {
            nonzero |= s[pos] != b'0';
            pos += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    // An exponent only counts when at least one digit follows it.
    if pos < s.len() && (s[pos] | 0x20) == b'e' {
        let mut e = pos + 1;
        if e < s.len() && (s[e] == b'+' || s[e] == b'-') {
            e += 1;
        }
        if e < s.len() && s[e].is_ascii_digit() {
            while e < s.len() && s[e].is_ascii_digit() {
                e += 1;
            }
            pos = e;
        }
    }
    Some((pos, nonzero))
}

/// Hexadecimal float after the `0x`: hex digits, optional fraction, optional binary exponent.
/// Returns (magnitude, length after the prefix, any non-zero digit). Rounded once, to
/// nearest even, straight to float4 (subnormals included), as strtof does.
fn scan_hex(s: &[u8]) -> Option<(f32, usize, bool)> {
    let mut pos = 0;
    let mut mantissa: u64 = 0;
    // Non-zero digits that did not fit in the mantissa (they only break rounding ties).
    let mut sticky = false;
    let mut exponent: i64 = 0;
    let mut digits = 0;
    let mut take_digit = |d: u64, fractional: bool, mantissa: &mut u64, exponent: &mut i64| {
        if *mantissa >> 60 == 0 {
            *mantissa = (*mantissa << 4) | d;
            if fractional {
                *exponent -= 4;
            }
        } else {
            sticky |= d != 0;
            if !fractional {
                *exponent += 4;
            }
        }
    };
    while pos < s.len() && s[pos].is_ascii_hexdigit() {
        let d = (s[pos] as char).to_digit(16).expect("hex digit") as u64;
        take_digit(d, false, &mut mantissa, &mut exponent);
        pos += 1;
        digits += 1;
    }
    if pos < s.len() && s[pos] == b'.' {
        pos += 1;
        while pos < s.len() && s[pos].is_ascii_hexdigit() {
            let d = (s[pos] as char).to_digit(16).expect("hex digit") as u64;
            take_digit(d, true, &mut mantissa, &mut exponent);
            pos += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if pos < s.len() && (s[pos] | 0x20) == b'p' {
        let mut e = pos + 1;
        let mut negative = false;
        if e < s.len() && (s[e] == b'+' || s[e] == b'-') {
            negative = s[e] == b'-';
            e += 1;
        }
        if e < s.len() && s[e].is_ascii_digit() {
            let mut value: i64 = 0;
            while e < s.len() && s[e].is_ascii_digit() {
                value = (value * 10 + (s[e] - b'0') as i64).min(1 << 20);
                e += 1;
            }
            exponent += if negative { -value } else { value };
            pos = e;
        }
    }
    let nonzero = mantissa != 0 || sticky;
    Some((round_binary(mantissa, exponent, sticky), pos, nonzero))
}

/// `mantissa * 2^exponent` (plus a little more when `sticky`) rounded to the nearest float4,
/// ties to even; infinity beyond the largest float4.
fn round_binary(mantissa: u64, exponent: i64, sticky: bool) -> f32 {
    if mantissa == 0 {
        return 0.0;
    }
    let bits = 64 - mantissa.leading_zeros() as i64;
    let top = exponent + bits - 1;
    if top > 127 {
        return f32::INFINITY;
    }
    // The weight of the last bit kept: 24 significant bits, or fewer below 2^-126.
    let ulp = (top - 23).max(-149);
    let shift = ulp - exponent;
    if shift <= 0 {
        // Exact: at most 24 significant bits.
        return (mantissa as f64 * 2f64.powi(exponent as i32)) as f32;
    }
    let m = mantissa as u128;
    let (kept, rest, half) = if shift >= 100 {
        (0u128, m, u128::MAX)
    } else {
        let shift = shift as u32;
        (m >> shift, m & ((1u128 << shift) - 1), 1u128 << (shift - 1))
    };
    let round_up = rest > half || (rest == half && (sticky || kept & 1 == 1));
    let kept = kept + round_up as u128;
    // kept <= 2^24: exact in f64, and the narrowing is exact or overflows to infinity.
    (kept as f64 * 2f64.powi(ulp as i32)) as f32
}

/// The result of scanning an integer like `strtol`: value saturated to i64, and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScannedInt {
    pub value: i64,
    pub len: usize,
    /// The literal did not fit in a C long (strtol's ERANGE).
    pub overflow: bool,
}

/// Scan a base-10 integer with optional sign at the start of `s` (no whitespace skipping).
pub fn scan_i64(s: &[u8]) -> ScannedInt {
    let (negative, mut pos) = optional_sign(s);
    let start = pos;
    let mut value: i128 = 0;
    while pos < s.len() && s[pos].is_ascii_digit() {
        value = (value * 10 + (s[pos] - b'0') as i128).min(i64::MAX as i128 + 1);
        pos += 1;
    }
    if pos == start {
        return ScannedInt {
            value: 0,
            len: 0,
            overflow: false,
        };
    }
    let signed = if negative { -value } else { value };
    let overflow = signed > i64::MAX as i128 || signed < i64::MIN as i128;
    let value = signed.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    ScannedInt {
        value,
        len: pos,
        overflow,
    }
}

/// Postgres's `array_isspace`: the six ASCII whitespace characters.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(s: &str) -> (f32, usize) {
        let r = scan_f32(s.as_bytes());
        (r.value, r.len)
    }

    #[test]
    fn decimal_prefixes() {
        assert_eq!(scan("1.5,"), (1.5, 3));
        assert_eq!(scan("-2"), (-2.0, 2));
        assert_eq!(scan("+.5]"), (0.5, 3));
        assert_eq!(scan("5."), (5.0, 2));
        assert_eq!(scan("1e3x"), (1000.0, 3));
        assert_eq!(scan("1e"), (1.0, 1));
        assert_eq!(scan("1e+"), (1.0, 1));
        assert_eq!(scan("2E-1"), (0.2, 4));
        assert_eq!(scan(".").1, 0);
        assert_eq!(scan("-").1, 0);
        assert_eq!(scan("abc").1, 0);
        assert_eq!(scan("").1, 0);
    }

    #[test]
    fn specials_and_hex() {
        assert_eq!(scan("inf"), (f32::INFINITY, 3));
        assert_eq!(scan("-Infinity]"), (f32::NEG_INFINITY, 9));
        assert!(scan_f32(b"NaN").value.is_nan());
        assert_eq!(scan_f32(b"nan(123)").len, 8);
        assert_eq!(scan("0x10"), (16.0, 4));
        assert_eq!(scan("0x1p3"), (8.0, 5));
        assert_eq!(scan("0x.8"), (0.5, 4));
        assert_eq!(scan("0x"), (0.0, 1));
        assert_eq!(scan("0xg"), (0.0, 1));
    }

    #[test]
    fn range_flags() {
        let r = scan_f32(b"1e39");
        assert!(r.overflow && r.value.is_infinite());
        assert!(scan_f32(b"1e-50").underflow);
        assert!(!scan_f32(b"0e-50").underflow);
        assert!(!scan_f32(b"1e-40").underflow, "denormals are representable");
        assert!(scan_f32(b"0x1p200").overflow);
    }

    #[test]
    fn fast_path_agrees_with_the_general_parser() {
        for text in [
            "0.09057617",
            "1.2345678",
            "-0.04187",
            "16777216",
            "1e10",
            "5.",
            ".5",
            "3e-10",
            "0.1",
            "0.3",
            "123456.7",
            "9.999999e-1",
            "1.5e+3",
        ] {
            let general: f32 = text.trim_start_matches('-').parse().unwrap();
            let fast = fast_decimal(text.trim_start_matches('-').as_bytes());
            assert!(
                fast.is_none_or(|f| f.to_bits() == general.to_bits()),
                "{text}"
            );
        }
        assert!(fast_decimal(b"99999999999999999999").is_none());
        assert!(fast_decimal(b"1e23").is_none());
    }

    proptest::proptest! {
        #[test]
        fn fast_path_is_correctly_rounded(m in 0u64..(1 << 53), e in -30i32..=30) {
            let text = format!("{m}e{e}");
            let general: f32 = text.parse().unwrap();
            if let Some(fast) = fast_decimal(text.as_bytes()) {
                proptest::prop_assert_eq!(fast.to_bits(), general.to_bits());
            }
        }

        #[test]
        fn fast_path_round_trips_every_float(bits in 0u32..0x7f80_0000) {
            let value = f32::from_bits(bits);
            let text = crate::float::f32_to_string(value);
            if let Some(fast) = fast_decimal(text.as_bytes()) {
                proptest::prop_assert_eq!(fast.to_bits(), bits);
            }
        }
    }

    #[test]
    fn integers() {
        assert_eq!(
            scan_i64(b"123:"),
            ScannedInt {
                value: 123,
                len: 3,
                overflow: false
            }
        );
        assert_eq!(scan_i64(b"-5").value, -5);
        assert_eq!(scan_i64(b"x").len, 0);
        let big = scan_i64(b"99999999999999999999999");
        assert!(big.overflow);
        assert_eq!(big.value, i64::MAX);
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    mod against_libc {
        use super::super::*;
        use proptest::prelude::*;

        extern "C" {
            fn strtof(s: *const std::ffi::c_char, end: *mut *mut std::ffi::c_char) -> f32;
        }

        /// The C library's strtof in the "C" locale (a test process never calls setlocale).
        fn libc_strtof(s: &str) -> (f32, usize) {
            let c = std::ffi::CString::new(s).unwrap();
            let mut end = std::ptr::null_mut();
            // SAFETY: `c` is a NUL-terminated string that outlives the call; strtof only
            // reads it and stores a pointer into it in `end`.
            let value = unsafe { strtof(c.as_ptr(), &mut end) };
            (value, end as usize - c.as_ptr() as usize)
        }

        fn same(s: &str) -> Result<(), TestCaseError> {
            let ours = scan_f32(s.as_bytes());
            let (value, len) = libc_strtof(s);
            prop_assert_eq!(ours.len, len, "length for {:?}", s);
            if len > 0 {
                prop_assert!(
                    ours.value.to_bits() == value.to_bits()
                        || (ours.value.is_nan() && value.is_nan()),
                    "{:?}: ours {:e} libc {:e}",
                    s,
                    ours.value,
                    value
                );
            }
            Ok(())
        }

        #[test]
        fn hex_and_edge_cases() {
            for s in [
                "0x1p-149",
                "0x1p-150",
                "0x1.8p-150",
                "0x1.0000010000000000000001p0",
                "0x1.000001p0",
                "0x1.0000030p0",
                "0xffffffp104",
                "0xffffff8p100",
                "0x1.fffffep127",
                "0x1.ffffffp127",
                "0x123456789abcdef0123p-70",
                "0x.00001p-130",
                "0x1p-126",
                "0x0.fffffep-126",
                "0x0.ffffffp-126",
                "1e-46",
                "7e-46",
                "1e-45",
                "3.4028235e38",
                "3.4028236e38",
                "1.0000000596046447753906250000000001",
                "nan(abc_1)",
                "nan(",
                "infinit",
                "0x",
                "0x.",
                "0xp3",
                "-0x1P+3",
                "1.e5",
                ".e5",
            ] {
                same(s).unwrap();
            }
        }

        proptest! {
            #[test]
            fn hex_matches_strtof(s in "[+-]?0[xX][0-9a-fA-F]{0,20}(\\.[0-9a-fA-F]{0,20})?([pP][+-]?[0-9]{1,3})?") {
                same(&s)?;
            }

            #[test]
            fn decimal_matches_strtof(s in "[+-]?[0-9]{0,25}(\\.[0-9]{0,25})?([eE][+-]?[0-9]{1,3})?") {
                same(&s)?;
            }
        }
    }
}
