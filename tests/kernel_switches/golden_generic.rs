//! The device-generic path (composed candle ops: what CUDA and Metal run) against the golden tiny model,
//! on the CPU in f32 with the CPU kernels switched off (`viclip::model::GENERIC_OPS`). The GPU backends
//! execute the same op graph, so this pins down the math of `--device cuda` on a machine without a GPU.
//! Thresholds are the golden ones (1e-4), never loosened. In the `kernel_switches` binary, not with the
//! other tests, because the switch is process-wide; each test holds [`crate::SWITCHES`] while it is set.

use std::sync::atomic::Ordering;
use std::sync::MutexGuard;

use crate::common::{assert_close, get, golden, tiny_model};
use candle_core::{DType, Device, Tensor};
use viclip::model::GENERIC_OPS;
use viclip::{Embeddings, ViClipModel};

const EMB_TOL: f64 = 1e-4;

/// Holds [`crate::SWITCHES`] with `GENERIC_OPS` set, and clears it when dropped, so the kernel tests of
/// this binary never run on the generic path.
struct GenericOps(#[allow(dead_code)] MutexGuard<'static, ()>);

impl Drop for GenericOps {
    fn drop(&mut self) {
        GENERIC_OPS.store(false, Ordering::Relaxed);
    }
}

/// The tiny model, with the CPU kernels switched off while the returned guard lives.
fn model() -> (GenericOps, ViClipModel) {
    let guard = crate::SWITCHES.lock().unwrap_or_else(|e| e.into_inner());
    GENERIC_OPS.store(true, Ordering::Relaxed);
    (GenericOps(guard), tiny_model().0)
}

#[test]
fn generic_video_and_image_paths_match() {
    let (_generic_ops, m) = model();
    let inputs = golden("tiny_a/inputs.safetensors");
    let out = golden("tiny_a/outputs_f32.safetensors");
    let out64 = golden("tiny_a/outputs_f64.safetensors");
    let pre = m.encode_video(get(&inputs, "videos")).unwrap();
    assert_close(
        "generic video prenorm",
        &pre,
        get(&out, "video_embeds_prenorm"),
        EMB_TOL,
    );
    assert_close(
        "generic video prenorm vs f64",
        &pre,
        get(&out64, "video_embeds_prenorm"),
        EMB_TOL,
    );
    let emb = Embeddings::from_unnormalized(&pre).unwrap();
    assert_close(
        "generic video normalised",
        emb.tensor(),
        get(&out, "video_embeds"),
        EMB_TOL,
    );
    let images = get(&inputs, "images").unsqueeze(1).unwrap();
    let pre = m.encode_video(&images).unwrap();
    assert_close(
        "generic image prenorm",
        &pre,
        get(&out, "image_embeds_prenorm"),
        EMB_TOL,
    );
    // The last block's single-row path against the full trace, on the generic ops too.
    let trace = m.vision.trace(get(&inputs, "videos")).unwrap();
    let full = m.encode_video(get(&inputs, "videos")).unwrap();
    assert_close("generic forward vs trace", &full, &trace.embeds, 1e-5);
}

#[test]
fn generic_text_path_matches() {
    let (_generic_ops, m) = model();
    let out = golden("tiny_a/outputs_f32.safetensors");
    let inter = golden("tiny_a/intermediates.safetensors");
    let ids: Vec<Vec<u32>> = get(&inter, "text.input_ids")
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec2::<u32>()
        .unwrap();
    let batched = m.encode_text(&ids, &Device::Cpu).unwrap();
    assert_close(
        "generic text batched",
        &batched,
        get(&out, "text_embeds_prenorm_batched"),
        EMB_TOL,
    );
    let singles: Vec<Tensor> = ids
        .iter()
        .map(|r| {
            m.encode_text(std::slice::from_ref(r), &Device::Cpu)
                .unwrap()
        })
        .collect();
    let singles = Tensor::cat(&singles, 0).unwrap();
    assert_close(
        "generic text single",
        &singles,
        get(&out, "text_embeds_prenorm"),
        EMB_TOL,
    );
}
