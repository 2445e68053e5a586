//! Zero-shot classification and retrieval metrics on small cases computed by hand, the prompt
//! cleaning of the reference, the Kinetics-400 class list, and zero-shot scores from the tiny fixture
//! model checked against prompt-by-prompt cosines.

use std::path::{Path, PathBuf};

use candle_core::Tensor;
use viclip::{LoadOptions, ViClip, ViClipConfig};
use viclip_data::eval::{
    accuracy, class_index, class_prompts, clean_prompt, kinetics400_classnames,
    mean_over_templates, rank_of, retrieval_metrics, zero_shot_scores, KINETICS_TEMPLATES,
};

fn fixture(p: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/fixtures")
        .join(p)
}

#[test]
fn zero_shot_metrics_by_hand() {
    // 3 classes x 2 templates, 4 videos.
    let sims = vec![
        vec![0.9, 0.7, 0.2, 0.4, 0.1, 0.1], // class means 0.8 0.3 0.1
        vec![0.1, 0.3, 0.5, 0.5, 0.6, 0.2], // 0.2 0.5 0.4
        vec![0.3, 0.3, 0.3, 0.3, 0.0, 0.0], // 0.3 0.3 0.0
        vec![0.0, 0.0, 0.3, 0.3, 0.3, 0.3], // 0.0 0.3 0.3
    ];
    let scores = mean_over_templates(&sims, 2).unwrap();
    let want = [
        [0.8, 0.3, 0.1],
        [0.2, 0.5, 0.4],
        [0.3, 0.3, 0.0],
        [0.0, 0.3, 0.3],
    ];
    for (got, want) in scores.iter().zip(want) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }
    // Ranks: label 0 of video 0 is first; label 2 of video 1 second; label 1 of video 2 ties with the
    // lower class 0 and so ranks second; label 0 of video 3 ranks third.
    let labels = [0, 2, 1, 0];
    let ranks: Vec<usize> = scores
        .iter()
        .zip(labels)
        .map(|(s, l)| rank_of(s, l))
        .collect();
    assert_eq!(ranks, [1, 2, 2, 3]);
    let a = accuracy(&scores, &labels).unwrap();
    assert_eq!((a.n, a.top1, a.top5, a.avg), (4, 25.0, 100.0, 62.5));
    // 7 classes: ranks 1, 6 and 5 -> top-1 1/3, top-5 2/3.
    let s7 = vec![
        vec![0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        vec![0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],
        vec![0.1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.2],
    ];
    let a = accuracy(&s7, &[0, 5, 0]).unwrap();
    assert_eq!((rank_of(&s7[1], 5), rank_of(&s7[2], 0)), (6, 7));
    assert!((a.top1 - 100.0 / 3.0).abs() < 1e-9 && (a.top5 - 100.0 / 3.0).abs() < 1e-9);
    let a = accuracy(&s7, &[0, 4, 6]).unwrap();
    assert!((a.top5 - 200.0 / 3.0).abs() < 1e-9 && (a.avg - 50.0).abs() < 1e-9);
    assert_eq!(rank_of(&[0.5, f32::NAN, 0.5], 2), 2);
    assert!(accuracy(&s7, &[0, 1]).is_err());
    assert!(accuracy(&s7, &[0, 1, 7]).is_err());
}

#[test]
fn retrieval_metrics_by_hand() {
    // 4 captions of 3 videos; video 1 has two captions.
    let sim = vec![
        vec![0.9, 0.1, 0.2], // caption 0 -> video 0: rank 1
        vec![0.5, 0.4, 0.7], // caption 1 -> video 1: rank 3
        vec![0.3, 0.8, 0.1], // caption 2 -> video 1: rank 1
        vec![0.7, 0.2, 0.7], // caption 3 -> video 2: tied with video 0 (lower index first): rank 2
    ];
    let m = retrieval_metrics(&sim, &[0, 1, 1, 2]).unwrap();
    assert_eq!((m.t2v.r1, m.t2v.r5, m.t2v.r10), (50.0, 100.0, 100.0));
    assert_eq!(
        (m.t2v.median_rank, m.t2v.mean_rank, m.t2v.n),
        (1.5, 1.75, 4)
    );
    // Video 0: caption 0 first. Video 1: captions 1 (rank 2) and 2 (rank 1): 1. Video 2: caption 3 ties
    // caption 1 (0.7), which has the lower index: rank 2.
    assert!((m.v2t.r1 - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!((m.v2t.r5, m.v2t.median_rank, m.v2t.n), (100.0, 1.0, 3));
    assert!((m.v2t.mean_rank - 4.0 / 3.0).abs() < 1e-12);
    // R@10 vs R@5: 12 pairs, caption 0's video ranked 8th (7 videos score higher), the others first.
    let sim: Vec<Vec<f32>> = (0..12)
        .map(|i| {
            (0..12)
                .map(|j| match (i, j) {
                    (0, 0) => 0.5,
                    (0, j) if j <= 7 => 0.9,
                    (i, j) if i == j => 1.0,
                    _ => 0.0,
                })
                .collect()
        })
        .collect();
    let m = retrieval_metrics(&sim, &(0..12).collect::<Vec<_>>()).unwrap();
    assert_eq!(rank_of(&sim[0], 0), 8);
    assert!((m.t2v.r5 - 1100.0 / 12.0).abs() < 1e-9 && m.t2v.r10 == 100.0);
    // A video without a caption, a caption pointing past the videos: errors.
    assert!(retrieval_metrics(&sim[..2], &[0, 0]).is_err());
    assert!(retrieval_metrics(&[vec![0.1, 0.2]], &[2]).is_err());
}

#[test]
fn prompts_are_cleaned_like_the_reference() {
    assert_eq!(
        clean_prompt("a photo of action passing American football (in game)"),
        "a photo of action passing american football in game"
    );
    assert_eq!(
        clean_prompt("massaging person's head, an action"),
        "massaging persons head an action"
    );
    assert_eq!(
        clean_prompt("Can you recognize the action of tying knot (not on a tie)?"),
        "can you recognize the action of tying knot not on a tie"
    );
    assert_eq!(clean_prompt("  Hello -- World/Foo  "), "hello world foo");
    assert_eq!(clean_prompt("a\tb"), "a\tb");
    assert_eq!(clean_prompt("<person> waves; ~*#:!"), "person waves");
    let prompts = class_prompts(
        &[
            "dancing gangnam style",
            "passing American football (not in game)",
        ],
        &KINETICS_TEMPLATES,
    );
    assert_eq!(prompts.len(), 32);
    assert_eq!(prompts[0], "a photo of action dancing gangnam style");
    assert_eq!(prompts[3], "dancing gangnam style an action");
    assert_eq!(
        prompts[16 + 11],
        "can you recognize the action of passing american football not in game"
    );
    assert_eq!(
        prompts[16 + 10],
        "look the human is passing american football not in game"
    );
}

#[test]
fn kinetics400_class_list() {
    let names = kinetics400_classnames();
    assert_eq!(names.len(), 400);
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 400);
    assert_eq!((names[0], names[399]), ("abseiling", "zumba"));
    assert!(
        names
            .windows(2)
            .all(|w| w[0].to_lowercase() < w[1].to_lowercase()),
        "standard alphabetical order"
    );
    assert_eq!(class_index(&names, "3"), Some(3));
    assert_eq!(class_index(&names, "Abseiling"), Some(0));
    assert_eq!(
        class_index(&names, "massaging persons head"),
        names.iter().position(|n| *n == "massaging person's head")
    );
    assert_eq!(class_index(&names, "400"), None);
    assert_eq!(class_index(&names, "flying a spaceship"), None);
}

#[test]
fn tiny_model_zero_shot_equals_prompt_by_prompt_cosines() {
    let cfg = ViClipConfig::from_json_file(&fixture("tiny_a/config.json")).unwrap();
    let model = ViClip::from_files(
        fixture("tiny_a/model.safetensors"),
        &cfg,
        LoadOptions::default(),
    )
    .unwrap();
    let clips = Tensor::read_npy(fixture("tiny_a/videos.npy")).unwrap();
    let videos = model.embed_videos(&clips).unwrap();
    let classes = [
        "dancing ballet",
        "playing guitar",
        "riding a bike",
        "yoga",
        "tai chi",
        "archery",
        "juggling fire",
    ];
    let scores = zero_shot_scores(&model, &videos, &classes, &KINETICS_TEMPLATES).unwrap();
    assert_eq!((scores.len(), scores[0].len()), (3, 7));
    let v = videos.to_vec2().unwrap();
    let mut max_diff = 0f32;
    for (c, class) in classes.iter().enumerate() {
        let mut mean = [0f64; 3];
        for t in KINETICS_TEMPLATES {
            let prompt = clean_prompt(&t.replace("{}", class));
            let e = model.embed_texts(&[prompt]).unwrap().to_vec2().unwrap();
            for (m, vi) in mean.iter_mut().zip(&v) {
                *m += vi
                    .iter()
                    .zip(&e[0])
                    .map(|(a, b)| f64::from(a * b))
                    .sum::<f64>()
                    / 16.0;
            }
        }
        for (i, m) in mean.iter().enumerate() {
            max_diff = max_diff.max((scores[i][c] - *m as f32).abs());
        }
    }
    assert!(
        max_diff < 1e-5,
        "class scores differ from prompt-by-prompt cosines by {max_diff}"
    );
    let a = accuracy(&scores, &[0, 1, 2]).unwrap();
    let hits1 = scores
        .iter()
        .zip([0, 1, 2])
        .filter(|(s, l)| rank_of(s, *l) == 1)
        .count();
    assert_eq!(a.top1, 100.0 * hits1 as f64 / 3.0);
}
