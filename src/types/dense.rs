//! SQL functions of the dense types, written once for `vector` (f32) and `halfvec` (f16).
//! Semantics follow pgvector 0.8 exactly: float4 accumulation in the distance kernels,
//! float8 for norms, pgvector's overflow/underflow checks and error messages. The
//! arithmetic and the aggregate state live in the pure `vecmath` crate; this file only maps
//! datums onto it.

use super::arrays;
use super::datum::{dense_arg, dense_datum, new_bits, new_dense};
use super::element::Element;
use crate::fmgr::*;
use pgrx::pg_sys::{Datum, FunctionCallInfo};
use std::cmp::Ordering;
use vecformat::limits;
use vecmath::{aggregate, dense};

unsafe fn pair<'a, T: Element>(fcinfo: FunctionCallInfo) -> (&'a [T], &'a [T]) {
    unsafe {
        let a = dense_arg::<T>(fcinfo, 0);
        let b = dense_arg::<T>(fcinfo, 1);
        limits::check_same_dims(T::KIND, a.len() as i64, b.len() as i64).or_raise();
        (a, b)
    }
}

pub unsafe fn input<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let literal = arg_cstr(fcinfo, 0);
        let typmod = arg_i32(fcinfo, 2);
        let values = vecformat::text::parse_dense(literal, T::KIND, typmod).or_raise();
        let (datum, out) = new_dense::<T>(values.len());
        for (o, v) in out.iter_mut().zip(values) {
            // The parser already range-checked halfvec elements; this cannot fail.
            *o = T::from_f32(v).or_raise();
        }
        datum
    }
}

pub unsafe fn output<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { cstring_datum(&T::format(dense_arg::<T>(fcinfo, 0))) }
}

pub unsafe fn typmod_in<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { i32_datum(limits::check_typmod(T::KIND, arrays::typmod_list(fcinfo)).or_raise()) }
}

pub unsafe fn receive<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let (bytes, buf) = recv_buffer(fcinfo);
        let typmod = arg_i32(fcinfo, 2);
        let (values, used) = T::decode(bytes, typmod).or_raise();
        consume(buf, used);
        dense_datum(&values)
    }
}

pub unsafe fn send<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { bytea_datum(&T::encode(dense_arg::<T>(fcinfo, 0))) }
}

/// `vector(vector, typmod, explicit)`: the cast that enforces a column's dimensions.
pub unsafe fn apply_typmod<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let x = dense_arg::<T>(fcinfo, 0);
        limits::check_expected_dim(arg_i32(fcinfo, 1), x.len() as i64).or_raise();
        arg(fcinfo, 0)
    }
}

/// Dense-to-dense casts (vector <-> halfvec), checking dimensions, typmod and range.
pub unsafe fn convert<S: Element, T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let x = dense_arg::<S>(fcinfo, 0);
        limits::check_dim(T::KIND, x.len() as i64).or_raise();
        limits::check_expected_dim(arg_i32(fcinfo, 1), x.len() as i64).or_raise();
        let (datum, out) = new_dense::<T>(x.len());
        for (o, &v) in out.iter_mut().zip(x) {
            *o = T::from_f32(v.to_f32()).or_raise();
        }
        datum
    }
}

pub unsafe fn from_array<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        // pgvector narrows every element first (halfvec's range error comes first), then
        // checks them all for NaN and infinity.
        let values = arrays::array_to_f32(fcinfo, T::KIND, arg_i32(fcinfo, 1), |v| {
            T::from_f32(v).or_raise()
        });
        for v in &values {
            limits::check_element(T::KIND, v.to_f32()).or_raise();
        }
        dense_datum(&values)
    }
}

pub unsafe fn to_float4_array<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { arrays::float4_array(dense_arg::<T>(fcinfo, 0).iter().map(|v| v.to_f32())) }
}

pub unsafe fn l2_distance<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let (a, b) = pair::<T>(fcinfo);
        f64_datum((T::l2_squared(a, b) as f64).sqrt())
    }
}

pub unsafe fn l2_squared_distance<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let (a, b) = pair::<T>(fcinfo);
        f64_datum(T::l2_squared(a, b) as f64)
    }
}

pub unsafe fn inner_product<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let (a, b) = pair::<T>(fcinfo);
        f64_datum(T::dot(a, b) as f64)
    }
}

pub unsafe fn negative_inner_product<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let (a, b) = pair::<T>(fcinfo);
        f64_datum(-(T::dot(a, b) as f64))
    }
}

pub unsafe fn cosine_distance<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let (a, b) = pair::<T>(fcinfo);
        f64_datum(T::cosine_distance(a, b))
    }
}

/// Angular distance for spherical k-means (inputs assumed unit length), as pgvector.
pub unsafe fn spherical_distance<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let (a, b) = pair::<T>(fcinfo);
        let dot = (T::dot(a, b) as f64).clamp(-1.0, 1.0);
        f64_datum(dot.acos() / std::f64::consts::PI)
    }
}

pub unsafe fn l1_distance<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let (a, b) = pair::<T>(fcinfo);
        f64_datum(T::l1(a, b) as f64)
    }
}

pub unsafe fn dims<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { i32_datum(dense_arg::<T>(fcinfo, 0).len() as i32) }
}

pub unsafe fn l2_norm<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { f64_datum(dense::l2_norm(dense_arg::<T>(fcinfo, 0))) }
}

/// Unit-length copy; the zero vector gives zeros (pgvector's behaviour).
pub unsafe fn l2_normalize<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { dense_datum(&dense::l2_normalize(dense_arg::<T>(fcinfo, 0)).or_raise()) }
}

/// One bit per element, set when the element is positive (most significant bit first).
pub unsafe fn binary_quantize<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let x = dense_arg::<T>(fcinfo, 0);
        let (datum, bytes) = new_bits(x.len());
        bytes.copy_from_slice(&dense::binary_quantize(x));
        datum
    }
}

/// `subvector(v, start, count)`: 1-based like `substring`, clamped to the vector.
pub unsafe fn subvector<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let x = dense_arg::<T>(fcinfo, 0);
        let range = dense::subvector_range(x, arg_i32(fcinfo, 1), arg_i32(fcinfo, 2)).or_raise();
        dense_datum(&x[range])
    }
}

unsafe fn binary_op<T: Element>(
    fcinfo: FunctionCallInfo,
    op: fn(&[T], &[T]) -> vecmath::Result<Vec<T>>,
) -> Datum {
    unsafe {
        let a = dense_arg::<T>(fcinfo, 0);
        let b = dense_arg::<T>(fcinfo, 1);
        dense_datum(&op(a, b).or_raise())
    }
}

pub unsafe fn add<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { binary_op::<T>(fcinfo, dense::add) }
}

pub unsafe fn sub<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { binary_op::<T>(fcinfo, dense::sub) }
}

pub unsafe fn mul<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { binary_op::<T>(fcinfo, dense::mul) }
}

pub unsafe fn concat<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe { binary_op::<T>(fcinfo, dense::concat) }
}

pub unsafe fn cmp<T: Element>(fcinfo: FunctionCallInfo) -> Ordering {
    unsafe { dense::compare(dense_arg::<T>(fcinfo, 0), dense_arg::<T>(fcinfo, 1)) }
}

/// `avg` / `sum` transition: state is {count, sum_1, ..., sum_dim} in float8.
pub unsafe fn accum<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let state = arrays::state_array(fcinfo, 0, &format!("{}_accum", T::KIND.name()));
        let x = dense_arg::<T>(fcinfo, 1);
        arrays::float8_array(&aggregate::accumulate(state, x).or_raise())
    }
}

/// `avg` final function; no rows gives NULL.
pub unsafe fn avg<T: Element>(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let state = arrays::state_array(fcinfo, 0, &format!("{}_avg", T::KIND.name()));
        match aggregate::average::<T>(state).or_raise() {
            Some(values) => dense_datum(&values),
            None => return_null(fcinfo),
        }
    }
}

/// `avg` combine function for parallel aggregation (shared by both dense types).
pub unsafe fn combine(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let a = arrays::state_array(fcinfo, 0, "vector_combine");
        let b = arrays::state_array(fcinfo, 1, "vector_combine");
        arrays::float8_array(&aggregate::combine(a, b).or_raise())
    }
}

/// Instantiate every SQL function of a dense type: symbols `pgvr_<prefix>_<function>`.
macro_rules! dense_sql_functions {
    ($prefix:ident, $elem:ty) => {
        ::paste::paste! {
            $crate::pg_function!([<$prefix _in>], |fcinfo| { input::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _out>], |fcinfo| { output::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _typmod_in>], |fcinfo| { typmod_in::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _recv>], |fcinfo| { receive::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _send>], |fcinfo| { send::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _typmod>], |fcinfo| { apply_typmod::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _from_array>], |fcinfo| { from_array::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _to_float4>], |fcinfo| { to_float4_array::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _l2_distance>], |fcinfo| { l2_distance::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _l2_squared_distance>], |fcinfo| { l2_squared_distance::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _inner_product>], |fcinfo| { inner_product::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _negative_inner_product>], |fcinfo| { negative_inner_product::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _cosine_distance>], |fcinfo| { cosine_distance::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _spherical_distance>], |fcinfo| { spherical_distance::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _l1_distance>], |fcinfo| { l1_distance::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _dims>], |fcinfo| { dims::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _l2_norm>], |fcinfo| { l2_norm::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _l2_normalize>], |fcinfo| { l2_normalize::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _binary_quantize>], |fcinfo| { binary_quantize::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _subvector>], |fcinfo| { subvector::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _add>], |fcinfo| { add::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _sub>], |fcinfo| { sub::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _mul>], |fcinfo| { mul::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _concat>], |fcinfo| { concat::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _lt>], |fcinfo| { bool_datum(cmp::<$elem>(fcinfo).is_lt()) });
            $crate::pg_function!([<$prefix _le>], |fcinfo| { bool_datum(cmp::<$elem>(fcinfo).is_le()) });
            $crate::pg_function!([<$prefix _eq>], |fcinfo| { bool_datum(cmp::<$elem>(fcinfo).is_eq()) });
            $crate::pg_function!([<$prefix _ne>], |fcinfo| { bool_datum(cmp::<$elem>(fcinfo).is_ne()) });
            $crate::pg_function!([<$prefix _ge>], |fcinfo| { bool_datum(cmp::<$elem>(fcinfo).is_ge()) });
            $crate::pg_function!([<$prefix _gt>], |fcinfo| { bool_datum(cmp::<$elem>(fcinfo).is_gt()) });
            $crate::pg_function!([<$prefix _cmp>], |fcinfo| { i32_datum(cmp::<$elem>(fcinfo) as i32) });
            $crate::pg_function!([<$prefix _accum>], |fcinfo| { accum::<$elem>(fcinfo) });
            $crate::pg_function!([<$prefix _avg>], |fcinfo| { avg::<$elem>(fcinfo) });
        }
    };
}

dense_sql_functions!(vector, f32);
dense_sql_functions!(halfvec, half::f16);

crate::pg_function!(vector_combine, |fcinfo| { combine(fcinfo) });
crate::pg_function!(halfvec_to_vector, |fcinfo| {
    convert::<half::f16, f32>(fcinfo)
});
crate::pg_function!(vector_to_halfvec, |fcinfo| {
    convert::<f32, half::f16>(fcinfo)
});
