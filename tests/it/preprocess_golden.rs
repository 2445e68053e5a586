//! Preprocessing parity with the original `frames2tensor` (`Data/InternVid/viclip/__init__.py`) on the
//! golden data: raw u8 frames -> sampled indices -> cv2 INTER_LINEAR resize (bit-exact) -> ImageNet
//! normalisation (float64 then f32) -> ViCLIP embeddings of the tiny golden model.

use std::path::Path;

use crate::common::{assert_close, fixture, get, golden, max_abs};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use viclip::frames::FramesDir;
use viclip::pipeline::{run_all, ClipSource, PipelineOptions};
use viclip::preprocess::{resize_cv2_linear, stack_clips, Preprocess, ProcessedClip, RgbFrame};
use viclip::{Embeddings, ViClipConfig, ViClipModel};

/// Normalised pixels: the reference computes in float64 and casts, so equal inputs give equal floats.
const PIXEL_TOL: f64 = 1e-6;
/// Embeddings, as in tests/golden_model.rs.
const EMB_TOL: f64 = 1e-4;

fn tiny_config() -> ViClipConfig {
    ViClipConfig::from_json_file(&fixture("tiny_a/config.json")).expect("tiny_a config")
}

fn tiny_model() -> ViClipModel {
    let tensors = candle_core::safetensors::load(fixture("tiny_a/model.safetensors"), &Device::Cpu)
        .expect("tiny_a weights");
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    ViClipModel::new(&tiny_config(), vb).expect("build tiny_a")
}

fn indices(t: &Tensor) -> Vec<usize> {
    t.to_vec1::<i64>()
        .unwrap()
        .into_iter()
        .map(|i| i as usize)
        .collect()
}

/// (max |a - b|, number of differing bytes) between our resize and the golden bytes.
fn lsb_diff(ours: &[RgbFrame], golden: &Tensor) -> (u8, usize) {
    let want = golden.flatten_all().unwrap().to_vec1::<u8>().unwrap();
    let got: Vec<u8> = ours.iter().flat_map(|f| f.data().to_vec()).collect();
    assert_eq!(got.len(), want.len());
    got.iter().zip(&want).fold((0, 0), |(m, n), (a, b)| {
        let d = a.abs_diff(*b);
        (m.max(d), n + usize::from(d > 0))
    })
}

/// `((u8 / 255 - mean) / std)` in float64 then f32, `(1, T, 3, S, S)`, computed independently of the
/// crate with candle ops, for the cases whose golden file omits the float tensor.
fn reference_normalise(resized: &Tensor) -> Tensor {
    let x = resized
        .to_dtype(DType::F64)
        .unwrap()
        .permute((0, 3, 1, 2))
        .unwrap();
    let mean = Tensor::new(&[0.485f64, 0.456, 0.406], &Device::Cpu)
        .unwrap()
        .reshape((1, 3, 1, 1))
        .unwrap();
    let std = Tensor::new(&[0.229f64, 0.224, 0.225], &Device::Cpu)
        .unwrap()
        .reshape((1, 3, 1, 1))
        .unwrap();
    let y = ((x / 255.0).unwrap().broadcast_sub(&mean).unwrap())
        .broadcast_div(&std)
        .unwrap();
    y.to_dtype(DType::F32).unwrap().unsqueeze(0).unwrap()
}

/// Runs one golden raw case through the demo preprocessing and checks every stage.
fn check_case(file: &str, i: usize, p: &Preprocess) -> ProcessedClip {
    let g = golden(file);
    let key = |k: &str| format!("raw{i}.{k}");
    let frames = RgbFrame::from_tensor(get(&g, &key("frames_rgb_u8"))).unwrap();
    let clip = p.process_all(&frames, file, "all frames").unwrap();
    assert_eq!(
        clip.indices,
        indices(get(&g, &key("sampled_indices"))),
        "{file} case {i}: indices"
    );

    let resized: Vec<RgbFrame> = clip
        .indices
        .iter()
        .map(|&k| resize_cv2_linear(&frames[k], p.size, p.size).unwrap())
        .collect();
    let (max, n) = lsb_diff(&resized, get(&g, &key("resized_rgb_u8")));
    eprintln!("{file} case {i}: resize max diff {max} LSB, {n} differing bytes");
    assert_eq!(
        (max, n),
        (0, 0),
        "{file} case {i}: cv2 resize not bit-exact"
    );

    let ours = stack_clips(std::slice::from_ref(&clip), p).unwrap();
    let want = match g.get(&key("preprocessed")) {
        Some(t) => t.clone(),
        None => reference_normalise(get(&g, &key("resized_rgb_u8"))),
    };
    assert_close(
        &format!("{file} case {i} preprocessed"),
        &ours,
        &want,
        PIXEL_TOL,
    );
    clip
}

#[test]
fn preprocess_224_is_bit_exact() {
    let p = Preprocess::demo(&ViClipConfig::viclip_l14());
    assert_eq!((p.num_frames, p.size), (8, 224));
    for i in 0..3 {
        check_case("preprocess_224/preprocess.safetensors", i, &p);
    }
}

#[test]
fn tiny_a_raw_frames_match_through_the_model() {
    let cfg = tiny_config();
    let p = Preprocess::demo(&cfg);
    let clips: Vec<ProcessedClip> = (0..3)
        .map(|i| check_case("tiny_a/inputs.safetensors", i, &p))
        .collect();
    let videos = stack_clips(&clips, &p).unwrap();
    assert_eq!(videos.dims(), &[3, 8, 3, 112, 112]);
    let out = golden("tiny_a/outputs_f32.safetensors");
    let pre = tiny_model().encode_video(&videos).unwrap();
    assert_close(
        "raw_video_embeds_prenorm",
        &pre,
        get(&out, "raw_video_embeds_prenorm"),
        EMB_TOL,
    );
    let emb = Embeddings::from_unnormalized(&pre).unwrap();
    assert_close(
        "raw_video_embeds",
        emb.tensor(),
        get(&out, "raw_video_embeds"),
        EMB_TOL,
    );
}

fn write_pngs(frames: &[RgbFrame], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (k, f) in frames.iter().enumerate() {
        // Unpadded names: natural order must still put frame 2 before frame 10.
        let img = image::RgbImage::from_raw(f.width() as u32, f.height() as u32, f.data().to_vec())
            .unwrap();
        img.save(dir.join(format!("frame_{k}.png"))).unwrap();
    }
}

/// The `--frames DIR` path: golden raw stacks written as PNG directories, through the pipeline, to the
/// golden embeddings (what `viclip embed-video --frames DIR --sampling demo --resize cv2-linear` runs).
#[test]
fn tiny_a_frame_directories_through_the_pipeline() {
    let cfg = tiny_config();
    let g = golden("tiny_a/inputs.safetensors");
    let tmp = tempfile::tempdir().unwrap();
    let mut sources = Vec::new();
    for i in 0..3 {
        let frames = RgbFrame::from_tensor(get(&g, &format!("raw{i}.frames_rgb_u8"))).unwrap();
        let dir = tmp.path().join(format!("clip{i}"));
        write_pngs(&frames, &dir);
        assert_eq!(FramesDir::open(&dir).unwrap().len(), frames.len());
        sources.push(ClipSource::FramesDir(dir));
    }
    // A missing directory in the middle is reported and does not disturb the others.
    sources.insert(1, ClipSource::FramesDir(tmp.path().join("missing")));
    let mut opts = PipelineOptions::new(Preprocess::demo(&cfg));
    opts.batch_size = 2;
    let all = run_all(sources, opts).unwrap();
    assert_eq!(all.failures.len(), 1);
    assert_eq!(all.failures[0].clip_index, 1);
    assert!(all.failures[0].error.to_string().contains("missing"));
    let order: Vec<usize> = all.clips.iter().map(|c| c.clip_index).collect();
    assert_eq!(order, [0, 2, 3]);
    let videos = all.videos.unwrap();
    for (row, i) in (0..3).enumerate() {
        let want = get(&g, &format!("raw{i}.preprocessed"));
        let d = max_abs(&videos.narrow(0, row, 1).unwrap(), want);
        assert!(
            d <= PIXEL_TOL,
            "clip {i} via PNG directory: max abs {d:.3e}"
        );
        assert_eq!(
            all.clips[row].frame_indices,
            indices(get(&g, &format!("raw{i}.sampled_indices")))
        );
    }
    let out = golden("tiny_a/outputs_f32.safetensors");
    let pre = tiny_model().encode_video(&videos).unwrap();
    assert_close(
        "raw_video_embeds_prenorm (PNG dirs)",
        &pre,
        get(&out, "raw_video_embeds_prenorm"),
        EMB_TOL,
    );
}

#[test]
fn demo_sampling_needs_t_frames() {
    let p = Preprocess::demo(&tiny_config());
    let frames: Vec<RgbFrame> = (0..7)
        .map(|_| RgbFrame::new(4, 4, vec![0; 48]).unwrap())
        .collect();
    let err = p
        .process_all(&frames, "clip.mp4", "span [00:00:01.000, 00:00:02.000)")
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, viclip::Error::Sampling { .. }), "{err:?}");
    assert!(
        msg.contains("clip.mp4") && msg.contains("00:00:01.000") && msg.contains("at least 8"),
        "{msg}"
    );
    // Middle sampling repeats the last frame instead.
    let p = p.with_sampling(viclip::preprocess::FrameSampling::Middle);
    assert_eq!(
        p.process_all(&frames, "c", "s").unwrap().indices,
        [0, 1, 2, 3, 4, 5, 6, 6]
    );
}
