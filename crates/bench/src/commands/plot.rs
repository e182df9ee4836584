//! `plot`: recall–QPS SVG from one or more results files.

use anyhow::{ensure, Context, Result};

use crate::cli::PlotArgs;
use crate::plot::{render_svg, series_from_records};
use crate::progress;
use crate::report::read_jsonl;

pub fn run(args: &PlotArgs) -> Result<()> {
    let mut records = Vec::new();
    for path in &args.input {
        records.extend(read_jsonl(path)?);
    }
    let series = series_from_records(&records, &args.label);
    ensure!(
        !series.is_empty(),
        "no results to plot (labels asked for: {:?})",
        args.label
    );
    std::fs::write(&args.out, render_svg(&series, &args.title))
        .with_context(|| format!("writing {}", args.out.display()))?;
    progress::status(format!(
        "wrote {} ({} series: {})",
        args.out.display(),
        series.len(),
        series
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}
