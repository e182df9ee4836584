//! Path selection through the public API.

use crate::dispatch::{table, variants};
use crate::{active_isa, active_variant, force_isa, supported_isas, Isa};
use std::sync::Mutex;

/// Serialises the tests that switch the global path.
static GLOBAL_PATH: Mutex<()> = Mutex::new(());

const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon];

#[test]
fn names_round_trip() {
    for isa in ALL {
        assert_eq!(Isa::from_name(isa.name()), Some(isa));
        assert_eq!(Isa::from_name(&isa.name().to_uppercase()), Some(isa));
    }
    assert_eq!(["scalar", "avx2", "avx512", "neon"], ALL.map(Isa::name));
    assert_eq!(Isa::from_name("sse2"), None);
    assert_eq!(Isa::from_name(""), None);
}

#[test]
fn supported_paths_are_consistent() {
    let supported = supported_isas();
    println!(
        "tested tables: {:?}",
        super::tables().iter().map(|t| t.name).collect::<Vec<_>>()
    );
    assert_eq!(supported.last(), Some(&Isa::Scalar));
    for isa in ALL {
        assert_eq!(table(isa).is_some(), supported.contains(&isa), "{isa:?}");
        for t in variants(isa) {
            assert_eq!(t.isa, isa, "{}", t.name);
            assert!(t.name.starts_with(isa.name()), "{}", t.name);
        }
    }
    #[cfg(target_arch = "x86_64")]
    assert!(!supported.contains(&Isa::Neon));
    #[cfg(not(target_arch = "x86_64"))]
    assert!(!supported.contains(&Isa::Avx2) && !supported.contains(&Isa::Avx512));
}

#[test]
fn force_switches_every_public_function() {
    let _guard = GLOBAL_PATH.lock().unwrap_or_else(|e| e.into_inner());
    let a: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).cos()).collect();
    let b: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.03).sin()).collect();
    for isa in supported_isas() {
        force_isa(isa).unwrap();
        assert_eq!(active_isa(), isa);
        let t = table(isa).unwrap();
        assert_eq!(active_variant(), t.name);
        // Bit-identical to the path's own table, i.e. no other path ran.
        assert_eq!(
            crate::dot_f32(&a, &b).to_bits(),
            t.dot_f32(&a, &b).to_bits(),
            "{isa:?}"
        );
        assert_eq!(
            crate::l2_squared_f32(&a, &b).to_bits(),
            t.l2_squared_f32(&a, &b).to_bits(),
            "{isa:?}"
        );
    }
    for isa in ALL
        .into_iter()
        .filter(|isa| !supported_isas().contains(isa))
    {
        let before = active_isa();
        assert!(force_isa(isa).is_err(), "{isa:?}");
        assert_eq!(active_isa(), before, "a failed force must not switch");
    }
    force_isa(supported_isas()[0]).unwrap();
    assert_eq!(active_isa(), supported_isas()[0]);
}
