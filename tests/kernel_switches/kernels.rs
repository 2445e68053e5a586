//! The fused CPU kernels (attention, LayerNorm, QuickGELU) equal the composed candle ops they replace.

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::Linear;
use std::sync::atomic::Ordering;
use viclip::model::attention_cpu::{FusedAttention, Segment, VarlenAttention, FORCE_PORTABLE};
use viclip::model::block::{Attention, LayerNorm};

/// Deterministic normal-ish values (sum of uniforms from an LCG), so the tests see the same inputs on
/// every run.
fn randn(seed: u64, shape: impl Into<candle_core::Shape>) -> Tensor {
    let shape = shape.into();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let data: Vec<f32> = (0..shape.elem_count())
        .map(|_| (0..4).map(|_| uniform()).sum::<f32>() * 1.732 - 3.464)
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
}

fn max_abs(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn attention(width: usize, heads: usize) -> Attention {
    let dev = Device::Cpu;
    let out = Linear::new(
        Tensor::zeros((width, width), DType::F32, &dev).unwrap(),
        None,
    );
    Attention::from_parts(
        Tensor::zeros((3 * width, width), DType::F32, &dev).unwrap(),
        Tensor::zeros(3 * width, DType::F32, &dev).unwrap(),
        out,
        heads,
    )
    .unwrap()
}

#[test]
fn fused_attention_equals_composed() {
    // Lengths around the 64-row query block, both masks.
    for (b, l, w, h) in [
        (2, 70, 32, 4),
        (1, 129, 64, 2),
        (3, 5, 16, 1),
        (1, 64, 48, 3),
        // Head dims of 64 (the real towers), 24 and 10 (not multiples of 16), blocks of 48 rows.
        (1, 100, 128, 2),
        (2, 49, 48, 2),
        (1, 97, 30, 3),
        (1, 1, 64, 1),
    ] {
        let qkv = randn((b * l * w) as u64, (b, l, 3 * w));
        let attn = attention(w, h);
        // Both the tiled kernels (where the CPU has AVX2) and the portable GEMM path; the lock keeps
        // the other attention test from running while the flag is set.
        let _guard = crate::SWITCHES.lock().unwrap_or_else(|e| e.into_inner());
        for portable in [false, true] {
            FORCE_PORTABLE.store(portable, Ordering::Relaxed);
            for causal in [false, true] {
                let fused = qkv
                    .apply_op1_no_bwd(&FusedAttention { heads: h, causal })
                    .unwrap();
                let composed = attn.attend_composed(&qkv, causal).unwrap();
                let d = max_abs(&fused, &composed);
                eprintln!(
                    "attention b{b} l{l} w{w} h{h} causal {causal} portable {portable}: {d:e}"
                );
                assert!(d < 2e-6, "b{b} l{l} w{w} h{h} causal {causal}: {d:e}");
            }
        }
        FORCE_PORTABLE.store(false, Ordering::Relaxed);
    }
}

#[test]
fn packed_sequences_equal_each_sequence_alone() {
    let _guard = crate::SWITCHES.lock().unwrap_or_else(|e| e.into_inner());
    // Captions of different lengths packed back to back, with a gap row that belongs to none.
    let (w, h) = (64, 2);
    let lens = [5usize, 32, 1, 17, 49];
    let mut segs = Vec::new();
    let mut start = 0;
    for &len in &lens {
        segs.push(Segment { start, len });
        start += len + usize::from(len == 1);
    }
    let qkv = randn(11, (1, start, 3 * w));
    for causal in [false, true] {
        let packed = qkv
            .apply_op1_no_bwd(&VarlenAttention {
                heads: h,
                causal,
                segments: segs.clone(),
            })
            .unwrap();
        for s in &segs {
            let alone = qkv
                .narrow(1, s.start, s.len)
                .unwrap()
                .contiguous()
                .unwrap()
                .apply_op1_no_bwd(&FusedAttention { heads: h, causal })
                .unwrap();
            let d = max_abs(&packed.narrow(1, s.start, s.len).unwrap(), &alone);
            assert!(d < 1e-6, "{s:?} causal {causal}: {d:e}");
        }
        // The gap row after the 1-token segment is zero.
        let gap = packed
            .narrow(1, 38, 1)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert_eq!(gap.to_scalar::<f32>().unwrap(), 0.0);
    }
    let past_end = VarlenAttention {
        heads: h,
        causal: false,
        segments: vec![Segment {
            start: start - 2,
            len: 3,
        }],
    };
    assert!(qkv.apply_op1_no_bwd(&past_end).is_err());
    let overlapping = VarlenAttention {
        heads: h,
        causal: false,
        segments: vec![Segment { start: 0, len: 5 }, Segment { start: 4, len: 3 }],
    };
    assert!(qkv.apply_op1_no_bwd(&overlapping).is_err());
}

#[test]
fn layer_norm_kernel_equals_the_formula_with_a_large_mean() {
    // The kernel runs only while `GENERIC_OPS` is clear.
    let _guard = crate::SWITCHES.lock().unwrap_or_else(|e| e.into_inner());
    let dim = 96;
    // A row mean of 300 next to unit spread: the one-pass E[x²]−E[x]² formula loses digits here.
    let x = (randn(1, (5, 7, dim)) + 300.0).unwrap();
    let w = randn(2, dim);
    let b = randn(3, dim);
    let ln = LayerNorm::from_tensors(w.clone(), b.clone()).unwrap();
    let got = ln.forward(&x).unwrap();
    let d = max_abs(&got, &reference(&x, &w, &b));
    eprintln!("layer norm, mean 300: {d:e}");
    assert!(d < 5e-5, "{d:e}");
    // The half-precision path (composed ops, statistics in f32) on a bf16 input agrees to bf16 rounding.
    let xb = randn(4, (5, 7, dim)).to_dtype(DType::BF16).unwrap();
    let half = ln.forward(&xb).unwrap();
    assert_eq!(half.dtype(), DType::BF16);
    let d = max_abs(&half.to_dtype(DType::F32).unwrap(), &reference(&xb, &w, &b));
    assert!(d < 0.05, "bf16: {d:e}");
}

/// LayerNorm computed in f64 from the definition, returned as f32.
fn reference(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    let x64 = x.to_dtype(DType::F64).unwrap();
    let mean = x64.mean_keepdim(D::Minus1).unwrap();
    let xc = x64.broadcast_sub(&mean).unwrap();
    let var = xc.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
    xc.broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
        .unwrap()
        .broadcast_mul(&w.to_dtype(DType::F64).unwrap())
        .unwrap()
        .broadcast_add(&b.to_dtype(DType::F64).unwrap())
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
}
