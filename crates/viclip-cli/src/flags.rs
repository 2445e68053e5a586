//! The libraries' errors in the command line's words.
//!
//! `viclip` and `viclip_data` name the option a message is about by its Rust name
//! (`ScoreOptions::out`, `FltOptions::top_frac`); a user of the command typed a flag. The table below
//! maps each such name to the flag that sets it, and [`in_flag_terms`] rewrites an error's text with it
//! while keeping the typed error underneath (so `downcast_ref::<viclip::Error>()` still works).

/// Library option names and the flags that set them. A term is replaced only where it is not followed
/// by more of an identifier (`FltOptions::n` does not touch `FltOptions::num`), and `set TERM` reads
/// `pass FLAG`. Entries that contain others come first.
const FLAGS: &[(&str, &str)] = &[
    (
        "(FltOptions::score_col, AesOptions::score_col)",
        "(--score-col)",
    ),
    (
        "load it with `ViClip::from_files`",
        "pass it with --weights",
    ),
    ("FramesDir::open takes", "--frames takes"),
    (
        "the head kind (AestheticHead::load's `forced`: v1, v2 or v2-relu)",
        "--head-kind v1|v2|v2-relu",
    ),
    ("ScoreOptions::out", "--out"),
    ("ScoreOptions::shard_size", "--shard-size"),
    ("ScoreOptions::batch_size", "--batch-size"),
    ("ScoreOptions::workers", "--workers"),
    ("ScoreOptions::embeddings", "--embeddings"),
    ("Columns::video_root", "--video-root"),
    ("ShareRequest::num_shards", "--num-shards"),
    ("ShareRequest::shard_index", "--shard-index"),
    ("FltOptions::min_duration", "--min-duration"),
    ("FltOptions::max_duration", "--max-duration"),
    ("FltOptions::top_frac", "--top-frac"),
    ("FltOptions::min_score", "--min-score"),
    ("FltOptions::score_col", "--score-col"),
    ("FltOptions::n", "--n"),
    ("AesOptions::min_aesthetic", "--min-aesthetic"),
    ("AesOptions::score_col", "--score-col"),
    ("DedupOptions::eps", "--eps"),
    ("DedupOptions::clusters", "--clusters"),
    ("SubsetJob::output", "--out"),
    ("SubsetJob::input", "--input"),
    ("SubsetJob::video", "--video-id-col or --video-id-from-path"),
    ("SubsetJob::span", "--start-col and --end-col"),
    ("PipelineOptions::workers", "--workers"),
    ("LoadOptions::batch_size", "--batch-size"),
];

/// `text` with every library option name of the module's table replaced by its flag.
pub fn flag_names(text: &str) -> String {
    let mut out = text.to_string();
    for (term, flag) in FLAGS {
        out = replace_term(&out, &format!("set {term}"), &format!("pass {flag}"));
        out = replace_term(&out, term, flag);
    }
    out
}

/// Replaces `term` where the character after it cannot continue an identifier.
fn replace_term(text: &str, term: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(term) {
        let after = rest[i + term.len()..].chars().next();
        let whole = !after.is_some_and(|c| c.is_alphanumeric() || c == '_');
        out.push_str(&rest[..i]);
        out.push_str(if whole { with } else { term });
        rest = &rest[i + term.len()..];
    }
    out.push_str(rest);
    out
}

/// The flag that sets a library option.
pub fn setting_flag(s: viclip::Setting) -> &'static str {
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

/// A cause's text in the command line's words: a library option error names its flag.
fn cause_text(cause: &(dyn std::error::Error + 'static)) -> String {
    if let Some(viclip::Error::Setting {
        setting,
        value,
        allowed,
    }) = cause.downcast_ref::<viclip::Error>()
    {
        return format!("{} {value}: {allowed}", setting_flag(*setting));
    }
    cause.to_string()
}

/// The error and its causes on one line, each text once: the crate's errors already include their
/// source's text (`path: File exists (os error 17)`), so a cause whose text (in flag terms) is already
/// there is skipped rather than repeated.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause_text(cause);
        if msg.contains(&text) || msg.contains(&flag_names(&text)) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    flag_names(&msg).replace('\n', " ")
}

/// `e` with its message in flag terms: unchanged when no library option is named, otherwise with
/// the rewritten text as context over the original error (which stays reachable by downcasting).
pub fn in_flag_terms(e: anyhow::Error) -> anyhow::Error {
    let text = format!("{e:#}");
    let mapped = flag_names(&text);
    if mapped == text {
        e
    } else {
        e.context(mapped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_flags_and_keeps_the_typed_error() {
        assert_eq!(
            flag_names("FltOptions::top_frac 1.5: must be in (0, 1]"),
            "--top-frac 1.5: must be in (0, 1]"
        );
        assert_eq!(
            flag_names("set ShareRequest::num_shards, or use a new ScoreOptions::out"),
            "pass --num-shards, or use a new --out"
        );
        // A longer identifier is left alone.
        assert_eq!(flag_names("FltOptions::nx"), "FltOptions::nx");
        let e =
            in_flag_terms(viclip::Error::InvalidInput("DedupOptions::eps 3: bad".into()).into());
        assert_eq!(e.to_string(), "--eps 3: bad");
        assert!(matches!(
            e.downcast_ref::<viclip::Error>(),
            Some(viclip::Error::InvalidInput(_))
        ));
        assert_eq!(error_line(&e), "--eps 3: bad");
        // The library's own message for a head file of unknown layout reads as the flag.
        let t = candle_core::Tensor::zeros(3, candle_core::DType::F32, &candle_core::Device::Cpu);
        let head = viclip::aesthetic::AestheticHead::from_tensors(
            vec![("foo".into(), t.expect("tensor"))],
            std::path::Path::new("head.pth"),
            None,
            &candle_core::Device::Cpu,
        );
        let msg = flag_names(&head.expect_err("unknown layout").to_string());
        assert!(
            msg.contains("; pass --head-kind v1|v2|v2-relu if it is one"),
            "{msg}"
        );
        let plain = in_flag_terms(anyhow::anyhow!("no option here"));
        assert_eq!(plain.chain().count(), 1);
    }
}
