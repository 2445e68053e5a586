//! Zero-shot classification as the ViCLIP paper evaluates Kinetics (docs/reference/evaluation.md §1): each class name
//! is put into 16 prompt templates, each prompt cleaned as the reference's `pre_text`, and a video's
//! score for a class is the mean over the class's prompts of cosine(video, prompt). Top-1, top-5 and
//! AVG = (top-1 + top-5) / 2 are reported in percent.

use serde::Serialize;

use crate::{Error, Result};
use viclip::embed::ViClip;
use viclip::embeddings::Embeddings;

/// `kinetics_templates_action_clip`: the 16 templates of the reference's zero-shot Kinetics configs.
pub const KINETICS_TEMPLATES: [&str; 16] = [
    "a photo of action {}",
    "a picture of action {}",
    "Human action of {}",
    "{}, an action",
    "{} this is an action",
    "{}, a video of action",
    "Playing action of {}",
    "{}",
    "Playing a kind of action, {}",
    "Doing a kind of action, {}",
    "Look, the human is {}",
    "Can you recognize the action of {}?",
    "Video classification of {}",
    "A video of {}",
    "The man is {}",
    "The woman is {}",
];

/// The 400 Kinetics-400 class names in the standard (alphabetical) order of the zero-shot configs,
/// from `assets/kinetics400_classnames.txt`.
pub fn kinetics400_classnames() -> Vec<&'static str> {
    include_str!("../../assets/kinetics400_classnames.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// The reference's prompt cleaning (`pre_text` / `pre_caption`): lower-case; remove
/// `, . ' ! ? " ( ) * # : ; ~`; `-` and `/` become spaces; `<person>` becomes `person`; runs of two or
/// more whitespace characters become one space; leading and trailing spaces are stripped.
pub fn clean_prompt(text: &str) -> String {
    let lowered = text.to_lowercase();
    let mut s = String::with_capacity(lowered.len());
    for ch in lowered.chars() {
        match ch {
            ',' | '.' | '\'' | '!' | '?' | '"' | '(' | ')' | '*' | '#' | ':' | ';' | '~' => {}
            '-' | '/' => s.push(' '),
            c => s.push(c),
        }
    }
    let s = s.replace("<person>", "person");
    // `re.sub(r"\s{2,}", " ", s)`: a single whitespace character is left as it is.
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    for ch in s.chars() {
        if ch.is_whitespace() {
            run.push(ch);
            continue;
        }
        flush_run(&mut out, &mut run);
        out.push(ch);
    }
    flush_run(&mut out, &mut run);
    out.trim_end_matches('\n').trim_matches(' ').to_string()
}

fn flush_run(out: &mut String, run: &mut String) {
    if run.chars().count() >= 2 {
        out.push(' ');
    } else {
        out.push_str(run);
    }
    run.clear();
}

/// The cleaned prompts for every class and template, class-major: prompt `c * T + t` is class `c` in
/// template `t`.
pub fn class_prompts<S: AsRef<str>>(classes: &[S], templates: &[&str]) -> Vec<String> {
    classes
        .iter()
        .flat_map(|c| {
            templates
                .iter()
                .map(move |t| clean_prompt(&t.replace("{}", c.as_ref())))
        })
        .collect()
}

/// Class scores `[videos][classes]` from the cosines `sims[videos][classes * T]` of the prompts of
/// [`class_prompts`]: the mean over each class's `T` prompts.
pub fn mean_over_templates(sims: &[Vec<f32>], n_templates: usize) -> Result<Vec<Vec<f32>>> {
    if n_templates == 0 {
        return Err(Error::InvalidInput("zero-shot: no prompt templates".into()));
    }
    sims.iter()
        .enumerate()
        .map(|(i, row)| {
            if row.len() % n_templates != 0 {
                return Err(Error::InvalidInput(format!(
                    "zero-shot: video {i} has {} prompt scores, not a multiple of {n_templates} templates",
                    row.len()
                )));
            }
            Ok(row
                .chunks(n_templates)
                .map(|c| (c.iter().map(|&x| f64::from(x)).sum::<f64>() / n_templates as f64) as f32)
                .collect())
        })
        .collect()
}

/// Embeds the prompts of `classes` x `templates` and returns the class scores `[videos][classes]` of
/// the (already embedded) `videos`.
pub fn zero_shot_scores<S: AsRef<str>>(
    model: &ViClip,
    videos: &Embeddings,
    classes: &[S],
    templates: &[&str],
) -> Result<Vec<Vec<f32>>> {
    let prompts = class_prompts(classes, templates);
    let texts = model.embed_texts(&prompts)?;
    let sims = videos.cosine_matrix(&texts)?.to_vec2::<f32>()?;
    mean_over_templates(&sims, templates.len())
}

/// Zero-shot accuracy in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Accuracy {
    /// Videos evaluated.
    pub n: usize,
    /// Percent of videos (0..=100) whose label is the highest-scoring class.
    pub top1: f64,
    /// Percent of videos (0..=100) whose label is among the five highest-scoring classes.
    pub top5: f64,
    /// (top1 + top5) / 2, the paper's AVG.
    pub avg: f64,
}

/// 1-based rank of column `target` in `row`: 1 + the columns scoring higher + the columns scoring the
/// same with a lower index (ties resolved as a stable sort by descending score would, so results do
/// not depend on sorting algorithms). NaN scores sort below every number.
pub fn rank_of(row: &[f32], target: usize) -> usize {
    let t = row[target];
    let key = |x: f32| if x.is_nan() { f32::NEG_INFINITY } else { x };
    let tk = key(t);
    1 + row
        .iter()
        .enumerate()
        .filter(|&(j, &x)| key(x) > tk || (key(x) == tk && j < target))
        .count()
}

/// Top-1 / top-5 / AVG of class scores `[videos][classes]` against labels (class indices).
pub fn accuracy(scores: &[Vec<f32>], labels: &[usize]) -> Result<Accuracy> {
    if scores.len() != labels.len() || scores.is_empty() {
        return Err(Error::InvalidInput(format!(
            "zero-shot: {} score rows for {} labels; need one label per video and at least one video",
            scores.len(),
            labels.len()
        )));
    }
    let (mut hit1, mut hit5) = (0usize, 0usize);
    for (i, (row, &l)) in scores.iter().zip(labels).enumerate() {
        if l >= row.len() {
            return Err(Error::InvalidInput(format!(
                "zero-shot: video {i} has label {l}, but there are {} classes",
                row.len()
            )));
        }
        let r = rank_of(row, l);
        hit1 += usize::from(r <= 1);
        hit5 += usize::from(r <= 5);
    }
    let n = labels.len();
    let pct = |h: usize| 100.0 * h as f64 / n as f64;
    Ok(Accuracy {
        n,
        top1: pct(hit1),
        top5: pct(hit5),
        avg: (pct(hit1) + pct(hit5)) / 2.0,
    })
}

/// The class index of `label`: an integer index, or a class name (exact, then case-insensitive, then
/// equal after [`clean_prompt`], so `massaging persons head` finds `massaging person's head`).
pub fn class_index<S: AsRef<str>>(classes: &[S], label: &str) -> Option<usize> {
    let label = label.trim();
    if let Ok(i) = label.parse::<usize>() {
        return (i < classes.len()).then_some(i);
    }
    let find = |f: &dyn Fn(&str) -> bool| classes.iter().position(|c| f(c.as_ref()));
    let cleaned = clean_prompt(label);
    find(&|c| c == label)
        .or_else(|| find(&|c| c.eq_ignore_ascii_case(label)))
        .or_else(|| find(&|c| clean_prompt(c) == cleaned))
}

/// Class names from a text file, one per line (blank lines skipped); `classes.txt` with lines like
/// `0 abseiling` or `abseiling,0` are not accepted: give bare names in label order.
pub fn read_class_names(path: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: no class names (one per line)",
            path.display()
        )));
    }
    Ok(names)
}
