//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod npy;

/// Squared L2 over f32 payloads.
pub struct L2;

impl ivf::Space for L2 {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        let (a, b): (&[f32], &[f32]) = (bytemuck::cast_slice(a), bytemuck::cast_slice(b));
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }
}
