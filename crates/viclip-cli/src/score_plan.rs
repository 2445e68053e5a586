//! `viclip score --plan`: what a run would do and record, without loading the model. Part of
//! `score_cmd` (see there).

use anyhow::{bail, Result};
use viclip_data::score::{ScoreOptions, ShareRequest};

use super::{input, ScoreArgs};

/// `viclip score --plan`: the run's shards and shares from the input's row count, and the run
/// identity a run would record (the weights file hashed, the model not loaded).
pub fn run_plan(a: &ScoreArgs) -> Result<()> {
    let (cfg, model_name, weights) = a.model.config_only()?;
    let mut unknown = Vec::new();
    if weights.is_none() {
        unknown.push("weights");
    }
    if a.aesthetic {
        unknown.push("aesthetic");
    }
    let opts = ScoreOptions {
        input: input(a)?,
        out: a.out.clone(),
        shard_size: a.shard_size,
        shards: ShareRequest::from_process_env(a.shard_index, a.num_shards)?,
        // The batch size is not part of the run identity.
        clips: a.decode.clip_options(&cfg)?,
        embeddings: a.embeddings,
        aesthetic: None,
        model_name,
        weights,
        cancel: None,
        write_report: !a.no_report,
    };
    if a.shard_size == 0 {
        bail!("--shard-size must be >= 1");
    }
    let plan =
        viclip_data::score::plan(&opts, &cfg, viclip::parse_dtype(&a.model.dtype)?, &unknown)?;
    // The plan speaks of the options a run takes; printed in the flags' words.
    print!("{plan}");
    if a.model.batch_size.get().is_none() {
        println!("(--batch-size auto: the batch size is picked from the GPU's free memory at start; it may differ between the processes of a run)");
    }
    if plan.this_process.starts_with("refused") {
        match plan.refused_by {
            Some(s) => bail!(
                "this process would be refused over {} (see the plan above)",
                crate::flags::data_flag(s)
            ),
            None => bail!("this process would be refused (see the plan above)"),
        }
    }
    Ok(())
}
