//! `viclip status OUT`: shards complete, in flight and missing, rows and failures so far, clips/s and
//! an ETA per share, and the Slurm array task ids still to resubmit. Reads only the output directory.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use viclip_data::score::status::{status, RunStatus};

/// The flags of `viclip status`: the run's output directory and what to print (text, `--json` or
/// `--missing-tasks`).
#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    /// The --out directory of a `viclip score` run (finished, running or interrupted).
    pub dir: PathBuf,
    /// Print the whole status as JSON.
    #[arg(long, conflicts_with = "missing_tasks")]
    pub json: bool,
    /// Print only the array task ids with missing shards, as `sbatch --array=` takes them (an empty
    /// line when none): `sbatch --array=$(viclip status OUT --missing-tasks) job.sh`.
    #[arg(long)]
    pub missing_tasks: bool,
}

fn duration(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The human-readable status.
pub fn format_status(st: &RunStatus) -> String {
    let r = &st.record;
    let mut out = format!(
        "{} rows in {} shards of {}, {} shares (array task = {} + share * {})\n\
         shards: {} complete, {} in flight, {} missing\n\
         rows: {} done ({} ok",
        r.table_rows,
        r.table_shards,
        r.shard_size,
        r.shares,
        r.first_task,
        r.task_step,
        st.complete,
        st.in_flight,
        st.missing,
        st.rows_done,
        st.rows_ok
    );
    for (kind, n) in &st.failed {
        out.push_str(&format!(", {n} {kind}"));
    }
    out.push_str(&format!(
        "), {} left\n",
        r.table_rows.saturating_sub(st.rows_done)
    ));
    out.push_str("task\tcomplete\tin_flight\tmissing\trows_left\tclips/s\tETA\n");
    for s in &st.per_share {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            s.task,
            s.complete,
            s.in_flight,
            s.missing,
            s.rows_left,
            s.clips_per_s.map_or("-".into(), |c| format!("{c:.1}")),
            match s.eta_s {
                Some(_) if s.rows_left == 0 => "done".to_string(),
                Some(e) => duration(e),
                None => "-".into(),
            }
        ));
    }
    if st.missing_tasks.is_empty() {
        out.push_str("no missing shards outside those in flight\n");
    } else {
        out.push_str(&format!(
            "tasks with missing shards: --array={}\n",
            st.missing_tasks
        ));
    }
    out
}

/// Runs `viclip status`.
pub fn run(a: &StatusArgs) -> Result<()> {
    let st = status(&a.dir)?;
    if a.missing_tasks {
        println!("{}", st.missing_tasks);
    } else if a.json {
        println!("{}", serde_json::to_string_pretty(&st)?);
    } else {
        print!("{}", format_status(&st));
    }
    Ok(())
}
