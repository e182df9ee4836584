//! `--target-recall`: runs the query set under `pgvector_rs.target_recall`
//! and sets each result next to the best hand-tuned setting of the same
//! run's sweep that reaches the same recall.
//!
//! "Best hand-tuned" is the swept point (same client count) with the most
//! QPS among those whose measured recall is at least the target run's
//! measured recall: in practice the smallest swept `ef_search` (`probes`)
//! that reaches it. So that the comparison does not depend on how finely
//! the sweep was spaced, the QPS a hand-tuned setting would give at exactly
//! that recall is also interpolated between the two swept points around it
//! (linearly in recall, of log QPS).

use std::fmt::Write as _;

use crate::report::{format_sig3, SweepPoint};

/// The GUC a target run sets.
pub const TARGET_GUC: &str = "pgvector_rs.target_recall";

/// One measurement under a recall target.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetPoint {
    /// The target asked for (as given on the command line).
    pub target: String,
    /// The setting the server chose, from its EXPLAIN line
    /// (`ef_search = 52`), if it said.
    pub chosen: Option<String>,
    pub point: SweepPoint,
}

/// The best hand-tuned swept point reaching `recall` at `clients` clients:
/// the highest QPS among swept points with recall ≥ `recall`.
pub fn best_hand_tuned(swept: &[SweepPoint], recall: f64, clients: usize) -> Option<&SweepPoint> {
    swept
        .iter()
        .filter(|p| p.clients == clients && p.recall >= recall)
        .max_by(|a, b| a.qps.total_cmp(&b.qps))
}

/// The QPS a hand-tuned setting would give at exactly `recall`: between the
/// two swept points (at `clients` clients) around it on the recall–QPS
/// frontier, linear in recall of ln QPS. `None` if no swept point reaches
/// `recall`. Below the lowest swept recall, the best point reaching it.
///
/// The frontier keeps, for each recall, the best QPS of any point reaching
/// it, so a noisy sweep whose QPS does not fall monotonically with recall
/// is read as a hand-tuner would read it.
pub fn interpolated_qps(swept: &[SweepPoint], recall: f64, clients: usize) -> Option<f64> {
    let above = best_hand_tuned(swept, recall, clients)?;
    if above.recall <= recall {
        return Some(above.qps);
    }
    // The best point below `recall` that is faster than `above`.
    let below = swept
        .iter()
        .filter(|p| p.clients == clients && p.recall < recall && p.qps > above.qps)
        .max_by(|a, b| a.recall.total_cmp(&b.recall));
    let Some(below) = below else {
        return Some(above.qps);
    };
    if above.recall <= below.recall {
        return Some(above.qps);
    }
    let t = (recall - below.recall) / (above.recall - below.recall);
    Some((below.qps.ln() * (1.0 - t) + above.qps.ln() * t).exp())
}

/// The chosen setting from a plan's pgvector_rs line, e.g.
/// `pgvector_rs: hnsw scan of items_emb_idx: ef_search = 52 (target_recall ...)`
/// gives `ef_search = 52`.
pub fn chosen_setting(plan: &str) -> Option<String> {
    plan.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("pgvector_rs: ")?;
        let (_, after) = rest.split_once(": ")?;
        let setting = after.split(" (").next()?.trim();
        setting.contains(" = ").then(|| setting.to_string())
    })
}

/// The Markdown comparison table: one row per target and client count.
pub fn markdown(k: usize, targets: &[TargetPoint], swept: &[SweepPoint]) -> String {
    let mut out = String::new();
    let guc = swept
        .iter()
        .find_map(|p| p.guc.clone())
        .unwrap_or_else(|| "setting".into());
    let _ = writeln!(
        out,
        "\n| target | chosen | recall@{k} | QPS | p50 ms | best swept {guc} reaching it | its recall@{k} | its QPS | QPS / its QPS | hand-tuned QPS interpolated at that recall | QPS / interpolated | clients |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for t in targets {
        let p = &t.point;
        let best = best_hand_tuned(swept, p.recall, p.clients);
        let interpolated = interpolated_qps(swept, p.recall, p.clients);
        let none = || "none reaches it".to_string();
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            t.target,
            t.chosen.as_deref().unwrap_or("?"),
            p.recall,
            format_sig3(p.qps),
            format_sig3(p.latency.p50_ms),
            best.map_or_else(none, |b| b.value.clone().unwrap_or_else(|| "default".into())),
            best.map_or("-".into(), |b| format!("{:.3}", b.recall)),
            best.map_or("-".into(), |b| format_sig3(b.qps)),
            best.map_or("-".into(), |b| format!("{:.2}", p.qps / b.qps)),
            interpolated.map_or("-".into(), format_sig3),
            interpolated.map_or("-".into(), |q| format!("{:.2}", p.qps / q)),
            p.clients
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_point;

    fn sweep() -> Vec<SweepPoint> {
        vec![
            sample_point("16", 1, 0.869, 900.0),
            sample_point("25", 1, 0.902, 760.0),
            sample_point("40", 1, 0.938, 600.0),
            sample_point("64", 1, 0.960, 450.0),
            sample_point("100", 1, 0.970, 350.0),
            sample_point("40", 4, 0.938, 1500.0),
        ]
    }

    #[test]
    fn best_is_the_fastest_swept_point_reaching_the_recall() {
        let s = sweep();
        assert_eq!(best_hand_tuned(&s, 0.95, 1).unwrap().value.as_deref(), Some("64"));
        // reaching means at least: equal counts
        assert_eq!(best_hand_tuned(&s, 0.938, 1).unwrap().value.as_deref(), Some("40"));
        assert_eq!(best_hand_tuned(&s, 0.5, 1).unwrap().value.as_deref(), Some("16"));
        assert!(best_hand_tuned(&s, 0.99, 1).is_none());
        // only the same client count
        assert_eq!(best_hand_tuned(&s, 0.9, 4).unwrap().qps, 1500.0);
        assert!(best_hand_tuned(&s, 0.95, 4).is_none());
    }

    #[test]
    fn a_noisy_sweep_picks_by_qps_not_by_setting() {
        let mut s = sweep();
        // ef 100 measured faster than ef 64 (noise): a hand-tuner takes it
        s[4].qps = 500.0;
        assert_eq!(best_hand_tuned(&s, 0.95, 1).unwrap().value.as_deref(), Some("100"));
    }

    #[test]
    fn interpolates_log_qps_between_the_points_around_the_recall() {
        let s = sweep();
        // exactly a swept recall: its QPS
        assert_eq!(interpolated_qps(&s, 0.960, 1), Some(450.0));
        // halfway between 0.938 (600) and 0.960 (450): the geometric mean
        let q = interpolated_qps(&s, 0.949, 1).unwrap();
        assert!((q - (600.0f64 * 450.0).sqrt()).abs() < 1e-6, "{q}");
        // below the lowest swept recall: the best point reaching it
        assert_eq!(interpolated_qps(&s, 0.80, 1), Some(900.0));
        assert_eq!(interpolated_qps(&s, 0.99, 1), None);
    }

    #[test]
    fn interpolation_skips_slower_points_below() {
        let mut s = sweep();
        // a slow outlier at 0.95 below the recall asked for is not on the
        // frontier: 0.938 is the point below
        s.push(sample_point("50", 1, 0.950, 300.0));
        let q = interpolated_qps(&s, 0.955, 1).unwrap();
        let t = (0.955 - 0.938) / (0.960 - 0.938);
        let expected = (600f64.ln() * (1.0 - t) + 450f64.ln() * t).exp();
        assert!((q - expected).abs() < 1e-6, "{q} {expected}");
    }

    #[test]
    fn reads_the_chosen_setting_from_explain() {
        let plan = "Limit  (cost=1.00..2.00 rows=10 width=4)\n  ->  Index Scan using items_emb_idx on items\n        Order By: (emb <=> $1)\npgvector_rs: hnsw scan of items_emb_idx: ef_search = 52 (target_recall 0.95 at k = 10: calibrated recall 0.950)";
        assert_eq!(chosen_setting(plan).as_deref(), Some("ef_search = 52"));
        let ivf = "pgvector_rs: ivfflat scan of i: probes = 7 (target_recall 0.9 at k = 10: calibrated recall 0.900)";
        assert_eq!(chosen_setting(ivf).as_deref(), Some("probes = 7"));
        assert_eq!(chosen_setting("Seq Scan on items"), None);
    }

    #[test]
    fn the_table_sets_each_target_next_to_the_best_swept_point() {
        let s = sweep();
        let t = TargetPoint {
            target: "0.95".into(),
            chosen: Some("ef_search = 58".into()),
            point: SweepPoint {
                guc: Some(TARGET_GUC.into()),
                value: Some("0.95".into()),
                ..sample_point("0.95", 1, 0.953, 495.0)
            },
        };
        let high = TargetPoint {
            target: "0.99".into(),
            chosen: None,
            point: sample_point("0.99", 1, 0.990, 150.0),
        };
        let text = markdown(10, &[t, high], &s);
        let lines: Vec<&str> = text.trim().lines().collect();
        assert!(lines[0].starts_with("| target | chosen | recall@10 |"), "{}", lines[0]);
        assert!(lines[0].contains("best swept hnsw.ef_search reaching it"));
        assert!(
            lines[2].starts_with("| 0.95 | ef_search = 58 | 0.953 | 495 | 0.791 | 64 | 0.960 | 450 | 1.10 |"),
            "{}",
            lines[2]
        );
        assert!(lines[3].starts_with("| 0.99 | ? | 0.990 | 150 | 0.791 | none reaches it | - | - | - | - | - | 1 |"), "{}", lines[3]);
    }
}
