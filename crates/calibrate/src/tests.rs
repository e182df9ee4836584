use super::*;
use pagestore::MemRelation;

fn sample() -> Calibration {
    Calibration {
        queries: 100,
        rows: 1000,
        held_out: true,
        ks: vec![1, 10, 100],
        settings: vec![10, 20, 40, 80],
        recall: vec![
            0.90, 0.95, 0.98, 1.00, // k = 1
            0.70, 0.85, 0.93, 0.99, // k = 10
            0.10, 0.20, 0.40, 0.80, // k = 100
        ],
    }
}

#[test]
fn encode_decode_round_trip() {
    let c = sample();
    assert_eq!(Calibration::decode(&c.encode()), Some(c.clone()));
    assert_eq!(c.encode().len(), 32 + 4 * (3 + 4 + 12));
    let mut d = c.clone();
    d.held_out = false;
    assert_eq!(Calibration::decode(&d.encode()), Some(d));
}

#[test]
fn decode_rejects_damage_and_other_versions() {
    let bytes = sample().encode();
    // Truncated, extended, wrong magic, another version.
    assert_eq!(Calibration::decode(&bytes[..bytes.len() - 1]), None);
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(Calibration::decode(&longer), None);
    let mut bad = bytes.clone();
    bad[0] ^= 1;
    assert_eq!(Calibration::decode(&bad), None);
    let mut v2 = bytes.clone();
    v2[4..8].copy_from_slice(&2u32.to_ne_bytes());
    assert_eq!(Calibration::decode(&v2), None);
    // Recall outside [0, 1], settings not ascending.
    let mut c = sample();
    c.recall[0] = 1.5;
    assert_eq!(Calibration::decode(&c.encode()), None);
    let mut c = sample();
    c.settings = vec![10, 10, 40, 80];
    assert_eq!(Calibration::decode(&c.encode()), None);
    assert_eq!(Calibration::decode(&[]), None);
}

#[test]
fn curve_interpolates_in_log_k_and_is_monotone() {
    let c = sample();
    assert_eq!(c.curve(10), vec![0.70f32 as f64, 0.85f32 as f64, 0.93f32 as f64, 0.99f32 as f64]);
    // k below/above the calibrated range clamps.
    assert_eq!(c.curve(1), c.curve(0));
    assert_eq!(c.curve(100), c.curve(1000));
    // sqrt(10 * 100) is halfway between 10 and 100 in log k.
    let mid = c.curve(32);
    let t = ((32f64).ln() - (10f64).ln()) / ((100f64).ln() - (10f64).ln());
    let want = 0.70f32 as f64 * (1.0 - t) + 0.10f32 as f64 * t;
    assert!((mid[0] - want).abs() < 1e-9);
    // A dip in the measurements is flattened.
    let mut d = sample();
    d.recall[5] = 0.60;
    let curve = d.curve(10);
    assert!(curve.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn choose_picks_smallest_setting_reaching_target() {
    let c = sample();
    // k = 10: 0.85 at 20, 0.93 at 40: 0.85 exactly is 20.
    assert_eq!(c.choose(0.85, 10, 1).setting, 20);
    // 0.89 is halfway between 20 and 40 in recall: sqrt(20 * 40) = 28.3 -> 29.
    let ch = c.choose(0.89, 10, 1);
    assert_eq!(ch.setting, 29);
    assert!(ch.reached);
    // Below the first measured value: the smallest setting.
    assert_eq!(c.choose(0.5, 10, 1).setting, 10);
    // Not reachable: the largest measured setting, flagged.
    let ch = c.choose(0.999, 10, 1);
    assert_eq!((ch.setting, ch.reached), (80, false));
    // HNSW's ef_search >= k.
    let ch = c.choose(0.5, 10, 10);
    assert_eq!(ch.setting, 10);
    let ch = c.choose(0.1, 100, 100);
    assert_eq!(ch.setting, 100);
    // Between calibrated ks, the settings are interpolated in log-log:
    // target 0.8 needs 20 at k = 10 (0.85 >= 0.8 between 10 and 20) and 80
    // at k = 100; at k = sqrt(1000) ~ 31.6 the geometric mean, 40.
    let a = c.choose(0.8, 10, 1).setting;
    let b = c.choose(0.8, 100, 1).setting;
    assert_eq!(b, 80);
    let mid = c.choose(0.8, 32, 1).setting;
    let want = ((a as f64).ln() * 0.5 + (b as f64).ln() * 0.5).exp();
    assert!((mid as f64 - want).abs() <= want * 0.05 + 1.0, "{a} {b} {mid}");
    // Larger k never needs a smaller setting (for a fixed target).
    let mut last = 0;
    for k in 1..=200 {
        let s = c.choose(0.8, k, 1).setting;
        assert!(s >= last, "k {k}: {s} < {last}");
        last = s;
    }
    // Higher targets never choose smaller settings.
    let mut last = 0;
    for t in 0..100 {
        let s = c.choose(0.5 + t as f64 * 0.005, 10, 1).setting;
        assert!(s >= last);
        last = s;
    }
}

#[test]
fn stale_after_twenty_percent_change() {
    let c = sample();
    assert!(!c.stale(1000));
    assert!(!c.stale(1200));
    assert!(c.stale(1201));
    assert!(c.stale(799));
}

#[test]
fn ladders() {
    assert_eq!(hnsw_ladder(40), vec![10, 16, 25, 40]);
    assert_eq!(ivf_ladder(1), vec![1]);
    assert_eq!(ivf_ladder(5), vec![1, 2, 3, 4, 5]);
    let l = ivf_ladder(100);
    assert_eq!(&l[..7], &[1, 2, 3, 4, 6, 9, 14]);
    assert_eq!(*l.last().unwrap(), 100);
    assert!(l.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn exact_top_k_keeps_nearest_sorted() {
    let mut t = ExactTopK::new(2, 3);
    for (id, d) in [(1, 5.0), (2, 1.0), (3, 4.0), (4, 0.5), (5, 9.0)] {
        t.push(0, id, d);
        t.push(1, id, -d);
    }
    let r = t.finish();
    assert_eq!(r[0], vec![(4, 0.5), (2, 1.0), (3, 4.0)]);
    assert_eq!(r[1], vec![(5, -9.0), (1, -5.0), (3, -4.0)]);
}

#[test]
fn recall_counts_ties_and_short_results() {
    let exact = vec![(1, 0.1), (2, 0.2), (3, 0.3), (4, 0.4)];
    assert_eq!(recall(&exact, &[(1, 0.1), (2, 0.2)], 2), 1.0);
    assert_eq!(recall(&exact, &[(2, 0.2), (9, 0.9)], 2), 0.5);
    // Row 7 ties the exact 2nd distance: a duplicate vector counts.
    assert_eq!(recall(&exact, &[(1, 0.1), (7, 0.2)], 2), 1.0);
    // Fewer results than k.
    assert_eq!(recall(&exact, &[(1, 0.1)], 4), 0.25);
    // Fewer rows than k: the denominator is what exists.
    assert_eq!(recall(&exact[..2], &[(1, 0.1), (2, 0.2)], 10), 1.0);
    assert_eq!(recall(&[], &[], 10), 1.0);
    // Without the tie rule a near miss (approximate distances) is a miss.
    assert_eq!(recall_by_id(&exact, &[(1, 0.1), (7, 0.2)], 2), 0.5);
    assert_eq!(recall_by_id(&exact, &[(2, 0.2), (1, 0.1)], 2), 1.0);
}

#[test]
fn tally_stops_at_measured_prefix() {
    let ks = [1, 2];
    let mut t = Tally::new(&ks, &[10, 20, 40]);
    let exact = vec![(1, 0.1), (2, 0.2)];
    t.record(0, &exact, &[(1, 0.1), (9, 0.9)], true);
    t.record(0, &exact, &[(3, 0.3), (2, 0.2)], true);
    t.record(1, &exact, &[(1, 0.1), (2, 0.2)], true);
    t.record(1, &exact, &[(1, 0.1), (2, 0.2)], false);
    assert_eq!(t.mean_at_largest_k(0), 0.5);
    let c = t.finish(50, false).unwrap();
    assert_eq!(c.settings, vec![10, 20]);
    assert_eq!(c.recall, vec![0.5, 1.0, 0.5, 1.0]);
    assert_eq!((c.queries, c.rows), (2, 50));
    assert!(Tally::new(&ks, &[10]).finish(0, true).is_none());
}

#[test]
fn reservoir_is_uniform_enough_and_seeded() {
    let mut counts = vec![0u32; 100];
    for seed in 0..2000 {
        let mut r = Reservoir::new(10, seed);
        for i in 0..100 {
            r.offer(|| i);
        }
        assert_eq!(r.seen(), 100);
        for i in r.into_items() {
            counts[i] += 1;
        }
    }
    // Each item is kept with probability 0.1: 200 of 2000 expected.
    assert!(counts.iter().all(|&c| (140..=260).contains(&c)), "{counts:?}");
    let run = |seed| {
        let mut r = Reservoir::new(5, seed);
        (0..50).for_each(|i| r.offer(|| i));
        r.into_items()
    };
    assert_eq!(run(7), run(7));
}

#[test]
fn store_and_load_on_meta_page() {
    let rel = MemRelation::new();
    assert_eq!(load(&rel), None);
    {
        let mut page = rel.extend();
        page.add_item(&[7u8; 40]).unwrap(); // the meta tuple
    }
    assert_eq!(load(&rel), None, "an index without calibration");
    let mut c = sample();
    assert!(store(&rel, &c));
    assert_eq!(load(&rel), Some(c.clone()));
    // Replacing keeps one item and the meta tuple.
    c.rows = 5000;
    c.settings.push(160);
    c.recall = vec![0.5; 15];
    assert!(store(&rel, &c));
    assert_eq!(load(&rel), Some(c));
    let page = rel.read(0);
    assert_eq!(page.max_offset(), 2);
    assert_eq!(page.item(1).unwrap(), &[7u8; 40]);
}

#[test]
fn pending_calibration_round_trips_and_is_stale_once_rows_exist() {
    let p = Calibration::pending(0);
    assert!(!p.is_measured());
    assert_eq!(Calibration::decode(&p.encode()), Some(p.clone()));
    assert!(!p.stale(0));
    assert!(!p.stale(MIN_ROWS - 1));
    assert!(p.stale(MIN_ROWS));
}

#[test]
fn sample_of_a_short_stream_is_not_its_prefix() {
    assert_eq!(queries_for(0), 50);
    assert_eq!(queries_for(10_000), 100);
    assert_eq!(queries_for(1_000_000), DEFAULT_QUERIES);
    // 100 items into a reservoir of 200, 10 taken: over many seeds every
    // item is taken about equally often (0.1 each), not the first 10.
    let mut counts = vec![0u32; 100];
    for seed in 0..2000 {
        let mut r = Reservoir::new(200, seed);
        (0..100).for_each(|i| r.offer(|| i));
        for i in r.into_sample(10) {
            counts[i] += 1;
        }
    }
    assert!(counts.iter().all(|&c| (140..=260).contains(&c)), "{counts:?}");
}

#[test]
fn displacing_reservoir_accounts_for_every_item() {
    let mut r = Reservoir::new(10, 3);
    let mut outside = Vec::new();
    for i in 0..1000 {
        match r.offer_displacing(|| i) {
            Offer::Kept => {}
            Offer::Rejected => outside.push(i),
            Offer::Displaced(old) => outside.push(old),
        }
    }
    let (chosen, rest) = r.into_split(4);
    assert_eq!((chosen.len(), rest.len()), (4, 6));
    let mut all: Vec<i32> = outside.into_iter().chain(chosen).chain(rest).collect();
    all.sort();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
}

#[test]
fn confident_choice_adds_one_standard_error() {
    let c = sample();
    // 100 queries x 10 neighbours: SE at 0.8 is sqrt(0.16 / 1000) = 0.0126.
    let plain = c.choose(0.8126, 10, 1).setting;
    assert_eq!(c.choose_confident(0.8, 10, 1).setting, plain);
    assert!(c.choose_confident(0.8, 10, 1).setting > c.choose(0.8, 10, 1).setting);
    // A target of 1 stays 1.
    assert_eq!(c.choose_confident(1.0, 10, 1), c.choose(1.0, 10, 1));
}

#[test]
fn batched_parallel_top_k_equals_one_row_at_a_time() {
    use pagestore::rng::SplitMix64;
    let mut rng = SplitMix64::new(7);
    let dims = 8;
    let vec_of = |rng: &mut SplitMix64| -> Vec<u8> {
        (0..dims).flat_map(|_| (rng.next_f64() as f32).to_ne_bytes()).collect()
    };
    let queries: Vec<Vec<u8>> = (0..37).map(|_| vec_of(&mut rng)).collect();
    let rows: Vec<(u64, Vec<u8>)> = (0..500u64).map(|i| (i, vec_of(&mut rng))).collect();
    let dist = |a: &[u8], b: &[u8]| -> f32 {
        a.chunks_exact(4)
            .zip(b.chunks_exact(4))
            .map(|(x, y)| {
                let d = f32::from_ne_bytes(x.try_into().unwrap()) - f32::from_ne_bytes(y.try_into().unwrap());
                d * d
            })
            .sum()
    };
    // Query q's own row is q (leave-one-out).
    let skip = |q: usize, id: u64| id == q as u64;
    let mut one = ExactTopK::new(queries.len(), 10);
    for (id, row) in &rows {
        for (q, query) in queries.iter().enumerate() {
            if !skip(q, *id) {
                one.push(q, *id, dist(query, row));
            }
        }
    }
    let expected = one.finish();
    assert!(expected.iter().enumerate().all(|(q, l)| l.len() == 10 && l.iter().all(|&(id, _)| id != q as u64)));
    let qs: Vec<&[u8]> = queries.iter().map(|q| q.as_slice()).collect();
    for threads in [1, 2, 3, 64] {
        for batch in [1, 7, 500] {
            let mut t = ExactTopK::new(queries.len(), 10);
            for part in rows.chunks(batch) {
                let part: Vec<(u64, &[u8])> = part.iter().map(|(i, r)| (*i, r.as_slice())).collect();
                t.push_batch(&qs, &part, &dist, &skip, threads);
            }
            assert_eq!(t.finish(), expected, "threads {threads}, batch {batch}");
        }
    }
}
