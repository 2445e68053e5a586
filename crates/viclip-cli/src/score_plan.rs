//! `viclip score --plan`: what a run would do and record, without loading the model. Part of
//! `score_cmd` (see there).

use std::path::PathBuf;

use anyhow::{bail, Result};
use viclip::preprocess::Preprocess;
use viclip::ViClipConfig;
use viclip_data::score::{ScoreOptions, ShareRequest};

use super::{input, ScoreArgs};

/// The model's config without its weights (a manifest entry's is read, not downloaded), its name,
/// and its weights file when one is given (a manifest model's is known only once fetched).
fn model_config(a: &ScoreArgs) -> Result<(ViClipConfig, String, Option<PathBuf>)> {
    match (&a.model, &a.weights, &a.config) {
        (Some(name), _, _) => Ok((viclip::manifest::find(name)?.config()?, name.clone(), None)),
        (None, Some(w), Some(c)) => Ok((
            ViClipConfig::from_name_or_path(c)?,
            w.file_name().map_or(w.display().to_string(), |f| {
                f.to_string_lossy().into_owned()
            }),
            Some(w.clone()),
        )),
        _ => bail!("pass --weights W --config C, or --model NAME"),
    }
}

/// `viclip score --plan`: the run's shards and shares from the input's row count, and the run
/// identity a run would record (the weights file hashed, the model not loaded).
pub fn run_plan(a: &ScoreArgs) -> Result<()> {
    let (cfg, model_name, weights) = model_config(a)?;
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
        preprocess: Preprocess::for_config(&cfg)
            .with_sampling(a.sampling)
            .with_resize(a.resize),
        batch_size: a.batch_size,
        workers: (a.workers > 0).then_some(a.workers),
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
    let plan = viclip_data::score::plan(&opts, &cfg, viclip::parse_dtype(&a.dtype)?, &unknown)
        .map_err(|e| crate::flags::in_flag_terms(e.into()))?;
    // The plan speaks of the options a run takes; printed in the flags' words.
    print!("{}", crate::flags::flag_names(&plan.to_string()));
    if a.batch_size == 0 {
        println!("(--batch-size 0: the batch size is picked from the GPU's free memory at start; it may differ between the processes of a run)");
    }
    if plan.this_process.starts_with("refused") {
        bail!("this process would be refused (see the plan above)");
    }
    Ok(())
}
