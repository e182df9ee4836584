//! Radius search: VectorChord's spelling `emb <<->> sphere(q, r)`.
//!
//! `sphere_vector` and `sphere_halfvec` are composite types `(center, radius real)` declared
//! in `sql/pgvector_rs.sql`, built by `sphere(center, radius)`. The operators are true when
//! the row's distance to the center is at most the radius, with the distance computed
//! exactly as the matching distance operator computes it (`<<->>`: `<->`, `<<=>>`: `<=>`,
//! `<<#>>`: `<#>`), so a sequential scan, the executor's recheck of an index scan and
//! `WHERE emb <-> q <= r` all agree. The index side is in `am::scan` (scan keys) and
//! the search crates (stopping once the search has passed the radius).

use super::datum::dense_from_ptr;
use super::element::Element;
use crate::fmgr::*;
use pgrx::pg_sys::{self, Datum, FunctionCallInfo};
use vecformat::limits;

/// Which distance a sphere operator compares with the radius.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SphereMetric {
    L2,
    Cosine,
    NegativeInnerProduct,
}

/// The center (a detoasted `vector`/`halfvec` pointer) and radius of a sphere datum
/// (a composite `(center, radius)`), or `None` if either field is NULL.
///
/// # Safety
/// `datum` must be a non-NULL value of `sphere_vector` or `sphere_halfvec`.
pub unsafe fn sphere_parts(datum: Datum) -> Option<(*const u8, f32)> {
    // SAFETY: a composite datum is a (possibly toasted) HeapTupleHeader; `pg_detoast_datum`
    // returns it in place or a palloc'd copy, and `GetAttributeByNum` reads its fields with
    // the row type's descriptor (looked up from the header's type id and typmod).
    unsafe {
        let tuple = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let mut null = false;
        let center = pg_sys::GetAttributeByNum(tuple, 1, &mut null);
        if null {
            return None;
        }
        let radius = pg_sys::GetAttributeByNum(tuple, 2, &mut null);
        if null {
            return None;
        }
        let radius = f32::from_bits(radius.value() as u32);
        Some((detoast(center), radius))
    }
}

/// The distance the sphere operator of `metric` compares with the radius.
pub fn sphere_distance<T: Element>(metric: SphereMetric, a: &[T], center: &[T]) -> f64 {
    match metric {
        SphereMetric::L2 => (T::l2_squared(a, center) as f64).sqrt(),
        SphereMetric::Cosine => T::cosine_distance(a, center),
        SphereMetric::NegativeInnerProduct => -(T::dot(a, center) as f64),
    }
}

/// `a <<op>> sphere(center, radius)`: NULL if the sphere has a NULL field.
unsafe fn within<T: Element>(fcinfo: FunctionCallInfo, metric: SphereMetric) -> Datum {
    // SAFETY: the SQL signature passes a non-NULL (STRICT) `vector`/`halfvec` of element `T`
    // and a non-NULL sphere of the same element type, whose center is a value of that type.
    unsafe {
        let a = dense_from_ptr::<T>(arg_varlena(fcinfo, 0));
        let Some((center, radius)) = sphere_parts(arg(fcinfo, 1)) else {
            (*fcinfo).isnull = true;
            return Datum::from(0usize);
        };
        let center = dense_from_ptr::<T>(center);
        limits::check_same_dims(T::KIND, a.len() as i64, center.len() as i64).or_raise();
        // NaN distances (never produced by finite vectors) and NaN radii are not within.
        bool_datum(sphere_distance(metric, a, center) <= radius as f64)
    }
}

crate::pg_function!(vector_sphere_l2, |fcinfo| {
    within::<f32>(fcinfo, SphereMetric::L2)
});
crate::pg_function!(vector_sphere_cosine, |fcinfo| {
    within::<f32>(fcinfo, SphereMetric::Cosine)
});
crate::pg_function!(vector_sphere_ip, |fcinfo| {
    within::<f32>(fcinfo, SphereMetric::NegativeInnerProduct)
});
crate::pg_function!(halfvec_sphere_l2, |fcinfo| {
    within::<half::f16>(fcinfo, SphereMetric::L2)
});
crate::pg_function!(halfvec_sphere_cosine, |fcinfo| {
    within::<half::f16>(fcinfo, SphereMetric::Cosine)
});
crate::pg_function!(halfvec_sphere_ip, |fcinfo| {
    within::<half::f16>(fcinfo, SphereMetric::NegativeInnerProduct)
});
