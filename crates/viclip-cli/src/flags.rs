//! The libraries' errors in the command line's words.
//!
//! `viclip` and `viclip_data` report a wrong option as data (`Error::Setting` with the option as an
//! enum); here each option is matched to the flag that sets it, so a message names `--top-frac`,
//! never a library field. Everything else the libraries say is printed as they say it.

use viclip_data::Setting as Data;

/// The flag that sets a core option.
pub fn core_flag(s: viclip::Setting) -> &'static str {
    use viclip::Setting;
    match s {
        Setting::VideoBatchSize => "--batch-size",
        Setting::TextBatchSize => "--batch-size (captions: 32 times it)",
        Setting::DecodeThreads => "--decode-threads",
        Setting::QueueBatches => "the queued batches",
        Setting::AestheticFrames => "--aesthetic-frames",
        Setting::AestheticBatchSize => "--aesthetic-batch-size",
        _ => "an option",
    }
}

/// The flag (or flags) that set a data option.
pub fn data_flag(s: Data) -> &'static str {
    match s {
        Data::OutputDir | Data::SubsetOutput => "--out",
        Data::ShardSize => "--shard-size",
        Data::NumShards => "--num-shards",
        Data::ShardIndex => "--shard-index",
        Data::VideoRoot => "--video-root",
        Data::Embeddings => "--embeddings",
        Data::MinDuration => "--min-duration",
        Data::MaxDuration => "--max-duration",
        Data::TopFraction => "--top-frac",
        Data::MinScore => "--min-score",
        Data::ScoreColumn => "--score-col",
        Data::SampleSize => "--n",
        Data::MinAesthetic => "--min-aesthetic",
        Data::DedupEps => "--eps",
        Data::DedupClusters => "--clusters",
        Data::SubsetInput => "--input",
        Data::VideoId => "--video-id-col or --video-id-from-path",
        Data::SpanColumns => "--start-col and --end-col",
        Data::ReadBatchRows => "--batch-size",
        _ => "an option",
    }
}

/// A cause's text in the command line's words: an option error names its flag.
fn cause_text(cause: &(dyn std::error::Error + 'static)) -> String {
    let core = |e: &viclip::Error| match e {
        viclip::Error::Setting {
            setting,
            value,
            allowed,
        } => Some(format!("{} {value}: {allowed}", core_flag(*setting))),
        _ => None,
    };
    if let Some(e) = cause.downcast_ref::<viclip_data::Error>() {
        match e {
            viclip_data::Error::Setting {
                setting,
                value,
                allowed,
            } => return format!("{} {value}: {allowed}", data_flag(*setting)),
            viclip_data::Error::Core(c) => {
                if let Some(t) = core(c) {
                    return t;
                }
            }
            _ => {}
        }
    }
    if let Some(t) = cause.downcast_ref::<viclip::Error>().and_then(core) {
        return t;
    }
    cause.to_string()
}

/// The error and its causes on one line, each text once: the crates' errors already include their
/// source's text (`path: File exists (os error 17)`), so a cause whose text is already there is
/// skipped rather than repeated.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause_text(cause);
        if msg.contains(&text) || msg.contains(&cause.to_string()) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_named_by_their_flags() {
        let e: anyhow::Error = viclip_data::Error::setting(
            Data::TopFraction,
            1.5,
            "must be in (0, 1]; 1 keeps everything",
        )
        .into();
        assert_eq!(
            error_line(&e),
            "--top-frac 1.5: must be in (0, 1]; 1 keeps everything"
        );
        // The typed error stays underneath.
        assert!(matches!(
            e.downcast_ref::<viclip_data::Error>(),
            Some(viclip_data::Error::Setting { .. })
        ));
        let core: anyhow::Error = viclip_data::Error::from(viclip::Error::out_of_range(
            viclip::Setting::DecodeThreads,
            0,
            1,
            256,
        ))
        .into();
        assert_eq!(
            error_line(&core),
            "--decode-threads 0: must be between 1 and 256"
        );
        let plain = anyhow::anyhow!("no option here").context("reading x");
        assert_eq!(error_line(&plain), "reading x: no option here");
    }
}
