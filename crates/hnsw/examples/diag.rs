#[path = "../tests/common/mod.rs"]
mod common;
use common::*;
use hnsw::{search, BuildOptions};

fn main() {
    let dim: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(32);
    let data = clustered(6000, dim, 4, 1);
    let queries = clustered(100, dim, 4, 2);
    for budget in [usize::MAX, 0] {
        let t = std::time::Instant::now();
        let (rel, _) = build_index(&L2, &data, BuildOptions { memory_budget: budget, ..default_build(dim) });
        println!("budget {budget} build {:?}", t.elapsed());
        for ef in [10, 40, 64, 128, 256] {
            let r = recall(&L2, &data, &queries, 10, |_| true, |q| search(&rel, &L2, q, ef).unwrap());
            println!("  ef {ef}: {r:.3}");
        }
    }
}
