//! SQL functions of `sparsevec`: up to 16,000 non-zero elements out of up to 10^9
//! dimensions; distances are merge-joins over the sorted indices.

use super::arrays;
use super::datum::{dense_arg, new_dense, sparse_arg, sparse_datum, Sparse};
use super::element::Element;
use crate::fmgr::*;
use half::f16;
use pgrx::pg_sys::{Datum, FunctionCallInfo};
use std::cmp::Ordering;
use vecformat::limits::{self, Kind};

unsafe fn pair<'a>(fcinfo: FunctionCallInfo) -> (Sparse<'a>, Sparse<'a>) {
    unsafe {
        let a = sparse_arg(fcinfo, 0);
        let b = sparse_arg(fcinfo, 1);
        limits::check_same_dims(Kind::Sparsevec, a.dim as i64, b.dim as i64).or_raise();
        (a, b)
    }
}

/// The SQL distance functions follow pgvector's order of operations (see
/// `vecmath::sparse`), so that they print the same digits.
fn view(x: Sparse) -> vecmath::sparse::SparseRef {
    vecmath::sparse::SparseRef {
        dim: x.dim,
        indices: x.indices,
        values: x.values,
    }
}

fn l2_squared(a: Sparse, b: Sparse) -> f32 {
    vecmath::sparse::l2_squared(view(a), view(b))
}

fn dot(a: Sparse, b: Sparse) -> f32 {
    vecmath::sparse::dot(view(a), view(b))
}

crate::pg_function!(sparsevec_in, |fcinfo| {
    let parsed = vecformat::text::parse_sparse(arg_cstr(fcinfo, 0), arg_i32(fcinfo, 2)).or_raise();
    sparse_datum(parsed.dim, &parsed.indices, &parsed.values)
});

crate::pg_function!(sparsevec_out, |fcinfo| {
    let x = sparse_arg(fcinfo, 0);
    cstring_datum(&vecformat::text::format_sparse(x.dim, x.indices, x.values))
});

crate::pg_function!(sparsevec_typmod_in, |fcinfo| {
    i32_datum(limits::check_typmod(Kind::Sparsevec, arrays::typmod_list(fcinfo)).or_raise())
});

crate::pg_function!(sparsevec_recv, |fcinfo| {
    let (bytes, buf) = recv_buffer(fcinfo);
    let (parts, used) = vecformat::binary::decode_sparsevec(bytes, arg_i32(fcinfo, 2)).or_raise();
    consume(buf, used);
    sparse_datum(parts.dim, &parts.indices, &parts.values)
});

crate::pg_function!(sparsevec_send, |fcinfo| {
    let x = sparse_arg(fcinfo, 0);
    bytea_datum(&vecformat::binary::encode_sparsevec(
        x.dim, x.indices, x.values,
    ))
});

crate::pg_function!(sparsevec_typmod, |fcinfo| {
    let x = sparse_arg(fcinfo, 0);
    limits::check_expected_dim(arg_i32(fcinfo, 1), x.dim as i64).or_raise();
    arg(fcinfo, 0)
});

crate::pg_function!(sparsevec_l2_distance, |fcinfo| {
    let (a, b) = pair(fcinfo);
    f64_datum((l2_squared(a, b) as f64).sqrt())
});

crate::pg_function!(sparsevec_l2_squared_distance, |fcinfo| {
    let (a, b) = pair(fcinfo);
    f64_datum(l2_squared(a, b) as f64)
});

crate::pg_function!(sparsevec_inner_product, |fcinfo| {
    let (a, b) = pair(fcinfo);
    f64_datum(dot(a, b) as f64)
});

crate::pg_function!(sparsevec_negative_inner_product, |fcinfo| {
    let (a, b) = pair(fcinfo);
    f64_datum(-(dot(a, b) as f64))
});

crate::pg_function!(sparsevec_cosine_distance, |fcinfo| {
    let (a, b) = pair(fcinfo);
    f64_datum(vecmath::sparse::cosine_distance(view(a), view(b)))
});

crate::pg_function!(sparsevec_l1_distance, |fcinfo| {
    let (a, b) = pair(fcinfo);
    f64_datum(vecmath::sparse::l1(view(a), view(b)) as f64)
});

crate::pg_function!(sparsevec_l2_norm, |fcinfo| {
    f64_datum(vecmath::sparse::l2_norm(sparse_arg(fcinfo, 0).values))
});

crate::pg_function!(sparsevec_l2_normalize, |fcinfo| {
    let x = sparse_arg(fcinfo, 0);
    let (indices, values) = vecmath::sparse::l2_normalize(x.indices, x.values).or_raise();
    sparse_datum(x.dim, &indices, &values)
});

unsafe fn cmp(fcinfo: FunctionCallInfo) -> Ordering {
    unsafe {
        let (a, b) = (sparse_arg(fcinfo, 0), sparse_arg(fcinfo, 1));
        vecmath::sparse::compare(view(a), view(b))
    }
}

crate::pg_function!(sparsevec_lt, |fcinfo| { bool_datum(cmp(fcinfo).is_lt()) });
crate::pg_function!(sparsevec_le, |fcinfo| { bool_datum(cmp(fcinfo).is_le()) });
crate::pg_function!(sparsevec_eq, |fcinfo| { bool_datum(cmp(fcinfo).is_eq()) });
crate::pg_function!(sparsevec_ne, |fcinfo| { bool_datum(cmp(fcinfo).is_ne()) });
crate::pg_function!(sparsevec_ge, |fcinfo| { bool_datum(cmp(fcinfo).is_ge()) });
crate::pg_function!(sparsevec_gt, |fcinfo| { bool_datum(cmp(fcinfo).is_gt()) });
crate::pg_function!(sparsevec_cmp, |fcinfo| { i32_datum(cmp(fcinfo) as i32) });

/// Dense (vector or halfvec) to sparse: keep the non-zero elements.
unsafe fn from_dense<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let x = dense_arg::<T>(fcinfo, 0);
        limits::check_dim(Kind::Sparsevec, x.len() as i64).or_raise();
        limits::check_expected_dim(arg_i32(fcinfo, 1), x.len() as i64).or_raise();
        let (indices, values): (Vec<i32>, Vec<f32>) = x
            .iter()
            .enumerate()
            .filter(|(_, v)| v.to_f32() != 0.0)
            .map(|(i, v)| (i as i32, v.to_f32()))
            .unzip();
        sparse_datum(x.len() as i32, &indices, &values)
    }
}

/// Sparse to dense; the dense type's dimension limit applies.
unsafe fn to_dense<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let x = sparse_arg(fcinfo, 0);
        limits::check_dim(T::KIND, x.dim as i64).or_raise();
        limits::check_expected_dim(arg_i32(fcinfo, 1), x.dim as i64).or_raise();
        let (datum, out) = new_dense::<T>(x.dim as usize);
        let zero = T::from_f32(0.0).or_raise();
        out.fill(zero);
        for (&i, &v) in x.indices.iter().zip(x.values) {
            out[i as usize] = T::from_f32(v).or_raise();
        }
        datum
    }
}

crate::pg_function!(vector_to_sparsevec, |fcinfo| { from_dense::<f32>(fcinfo) });
crate::pg_function!(halfvec_to_sparsevec, |fcinfo| { from_dense::<f16>(fcinfo) });
crate::pg_function!(sparsevec_to_vector, |fcinfo| { to_dense::<f32>(fcinfo) });
crate::pg_function!(sparsevec_to_halfvec, |fcinfo| { to_dense::<f16>(fcinfo) });

crate::pg_function!(sparsevec_from_array, |fcinfo| {
    let values = arrays::array_to_f32(fcinfo, Kind::Sparsevec, arg_i32(fcinfo, 1), |v| v);
    // pgvector counts the non-zero elements (NaN included) before checking any of them.
    if values.iter().filter(|&&v| v != 0.0).count() > limits::SPARSEVEC_MAX_NNZ as usize {
        raise(limits::too_many_nnz());
    }
    for &v in values.iter().filter(|&&v| v != 0.0) {
        limits::check_element(Kind::Sparsevec, v).or_raise();
    }
    let (indices, nonzero): (Vec<i32>, Vec<f32>) = values
        .iter()
        .enumerate()
        .filter(|(_, &v)| v != 0.0)
        .map(|(i, &v)| (i as i32, v))
        .unzip();
    sparse_datum(values.len() as i32, &indices, &nonzero)
});
