//! Recall–QPS plot of several runs as a self-contained SVG (written by hand:
//! a few lines and circles do not justify a plotting library).

use std::fmt::Write as _;

use crate::report::ResultRecord;

/// One line on the plot: (recall, QPS) points of a run at one client count.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Builds the series: one per label (its latest run only, so re-running a
/// label replaces its line instead of zig-zagging into the old one) and per
/// client count. `labels` filters and orders; empty means all, in file order.
pub fn series_from_records(records: &[ResultRecord], labels: &[String]) -> Vec<Series> {
    let mut wanted: Vec<&str> = labels.iter().map(String::as_str).collect();
    if wanted.is_empty() {
        for record in records {
            if !wanted.contains(&record.run.label.as_str()) {
                wanted.push(&record.run.label);
            }
        }
    }
    let mut series = Vec::new();
    for label in wanted {
        let of_label: Vec<&ResultRecord> =
            records.iter().filter(|r| r.run.label == label).collect();
        // The latest run: greatest timestamp, later lines winning ties.
        let Some(latest) = of_label
            .iter()
            .enumerate()
            .max_by_key(|(line, r)| (r.run.timestamp, *line))
            .map(|(_, r)| r.run.run_id.clone())
        else {
            continue;
        };
        let run: Vec<&ResultRecord> = of_label
            .into_iter()
            .filter(|r| r.run.run_id == latest)
            .collect();
        let mut client_counts: Vec<usize> = run.iter().map(|r| r.point.clients).collect();
        client_counts.sort_unstable();
        client_counts.dedup();
        for &clients in &client_counts {
            let mut points: Vec<(f64, f64)> = run
                .iter()
                .filter(|r| r.point.clients == clients)
                .map(|r| (r.point.recall, r.point.qps))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let name = if client_counts.len() > 1 {
                format!(
                    "{label} ({clients} client{})",
                    if clients == 1 { "" } else { "s" }
                )
            } else {
                label.to_string()
            };
            series.push(Series { name, points });
        }
    }
    series
}

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 250.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Axis ranges: recall linear (up to 1), QPS logarithmic over whole decades.
struct Axes {
    recall_min: f64,
    recall_max: f64,
    log_qps_min: f64,
    log_qps_max: f64,
}

impl Axes {
    fn fit(series: &[Series]) -> Self {
        let points = || series.iter().flat_map(|s| s.points.iter());
        let min_recall = points().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let recall_min = if min_recall.is_finite() {
            ((min_recall * 10.0).floor() / 10.0).clamp(0.0, 0.9)
        } else {
            0.0
        };
        let positive_qps = || points().map(|p| p.1).filter(|q| *q > 0.0);
        let log_min = positive_qps().fold(f64::INFINITY, f64::min).log10().floor();
        let log_max = positive_qps().fold(0.0, f64::max).log10().ceil();
        let (log_qps_min, log_qps_max) = if log_min.is_finite() && log_max > log_min {
            (log_min, log_max)
        } else if log_min.is_finite() {
            (log_min, log_min + 1.0)
        } else {
            (0.0, 1.0)
        };
        Self {
            recall_min,
            recall_max: 1.0,
            log_qps_min,
            log_qps_max,
        }
    }

    fn x(&self, recall: f64) -> f64 {
        let plot_width = WIDTH - LEFT - RIGHT;
        LEFT + (recall - self.recall_min) / (self.recall_max - self.recall_min) * plot_width
    }

    fn y(&self, qps: f64) -> f64 {
        let plot_height = HEIGHT - TOP - BOTTOM;
        let fraction =
            (qps.max(1e-12).log10() - self.log_qps_min) / (self.log_qps_max - self.log_qps_min);
        HEIGHT - BOTTOM - fraction * plot_height
    }
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the plot. Points are also given `<title>`s, so hovering in a
/// browser shows the exact figures.
pub fn render_svg(series: &[Series], title: &str) -> String {
    let axes = Axes::fit(series);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="28" font-size="16" text-anchor="middle">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        escape_xml(title)
    );
    draw_grid(&mut svg, &axes);
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let coordinates: Vec<String> = s
            .points
            .iter()
            .map(|&(recall, qps)| format!("{:.1},{:.1}", axes.x(recall), axes.y(qps)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            coordinates.join(" ")
        );
        for &(recall, qps) in &s.points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}"><title>{}: recall {recall:.3}, {qps:.0} QPS</title></circle>"#,
                axes.x(recall),
                axes.y(qps),
                escape_xml(&s.name)
            );
        }
        let legend_y = TOP + 10.0 + 20.0 * i as f64;
        let legend_x = WIDTH - RIGHT + 20.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{legend_x}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
            legend_x + 20.0,
            legend_x + 26.0,
            legend_y + 4.0,
            escape_xml(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn draw_grid(svg: &mut String, axes: &Axes) {
    let (left, right) = (LEFT, WIDTH - RIGHT);
    let (top, bottom) = (TOP, HEIGHT - BOTTOM);
    let grid = |svg: &mut String, x1: f64, y1: f64, x2: f64, y2: f64| {
        let _ = writeln!(
            svg,
            r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#ddd"/>"##
        );
    };
    // Recall ticks every 0.05 over short ranges, else every 0.1.
    let step = if axes.recall_max - axes.recall_min <= 0.3 {
        0.05
    } else {
        0.1
    };
    let ticks = ((axes.recall_max - axes.recall_min) / step).round() as usize;
    for i in 0..=ticks {
        let recall = axes.recall_min + step * i as f64;
        let x = axes.x(recall);
        grid(svg, x, top, x, bottom);
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle">{recall:.2}</text>"#,
            bottom + 18.0
        );
    }
    // QPS ticks at 1, 2 and 5 times each power of ten.
    for decade in axes.log_qps_min as i32..=axes.log_qps_max as i32 {
        for multiple in [1.0, 2.0, 5.0] {
            let qps = multiple * 10f64.powi(decade);
            if qps.log10() > axes.log_qps_max + 1e-9 {
                continue;
            }
            let y = axes.y(qps);
            grid(svg, left, y, right, y);
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{qps}</text>"#,
                left - 6.0,
                y + 4.0
            );
        }
    }
    let _ = writeln!(
        svg,
        r#"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        right - left,
        bottom - top
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">recall</text>"#,
        (left + right) / 2.0,
        HEIGHT - 18.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">queries per second (log scale)</text>"#,
        (top + bottom) / 2.0,
        (top + bottom) / 2.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{sample_point, sample_run};

    fn record(label: &str, timestamp: u64, clients: usize, recall: f64, qps: f64) -> ResultRecord {
        let mut run = sample_run(label, Some("USING hnsw"));
        run.timestamp = timestamp;
        run.run_id = format!("{label}-{timestamp}");
        ResultRecord {
            run,
            point: sample_point("10", clients, recall, qps),
        }
    }

    #[test]
    fn keeps_latest_run_per_label_and_splits_client_counts() {
        let records = [
            record("pgvector", 1, 1, 0.5, 100.0),
            record("pgvector", 2, 1, 0.95, 300.0),
            record("pgvector", 2, 1, 0.81, 1200.0),
            record("pgvector", 2, 4, 0.81, 2000.0),
            record("pgvector_rs", 5, 1, 0.9, 900.0),
        ];
        let series = series_from_records(&records, &[]);
        let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["pgvector (1 client)", "pgvector (4 clients)", "pgvector_rs"]
        );
        // The old run (recall 0.5) is gone and points are sorted by recall.
        assert_eq!(series[0].points, [(0.81, 1200.0), (0.95, 300.0)]);
        let only = series_from_records(&records, &["pgvector_rs".to_string()]);
        assert_eq!(only.len(), 1);
    }

    #[test]
    fn svg_has_a_line_per_series_and_escapes_labels() {
        let series = [
            Series {
                name: "a<b>".into(),
                points: vec![(0.8, 1200.0), (0.99, 120.0)],
            },
            Series {
                name: "c".into(),
                points: vec![(0.9, 700.0)],
            },
        ];
        let svg = render_svg(&series, "recall vs QPS");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("a&lt;b&gt;") && !svg.contains("a<b>"));
        // QPS axis spans whole decades around the data: 100 to 10000.
        assert!(svg.contains(">100</text>") && svg.contains(">10000</text>"));
    }

    #[test]
    fn empty_input_still_renders() {
        let svg = render_svg(&[], "nothing");
        assert!(svg.contains("</svg>"));
    }
}
