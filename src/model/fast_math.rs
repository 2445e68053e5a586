//! Vectorisable elementwise kernels for the CPU hot loops (softmax in attention, QuickGELU), compiled for
//! AVX2+FMA when the CPU has it (checked at run time) and for the baseline target otherwise.

/// exp(x) for f32 by Cephes' `expf` scheme: `x = n·ln2 + r`, a degree-6 polynomial for `e^r`, `2^n`
/// from the exponent bits. Branch-free so loops over it vectorise; relative error ~1e-7, like libm's.
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding it rounds to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    // n = round(x·log2 e) by the magic-number trick rather than `as i32`, whose saturating
    // semantics stop the loop from vectorising (one scalar conversion per lane).
    let k = x * LOG2E + MAGIC;
    let n = k - MAGIC;
    let r = x - n * C1 - n * C2;
    let z = r * r;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let y = p * z + r + 1.0;
    // 2ⁿ from the integer in k's low bits (|n| ≤ 127 after the clamp).
    let pow2n = f32::from_bits(k.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127) << 23);
    y * pow2n
}

#[inline(always)]
fn exp_shifted_body(xs: &mut [f32], shift: f32, scale: f32) -> f32 {
    let mut acc = [0f32; 8];
    let mut chunks = xs.chunks_exact_mut(8);
    for c in &mut chunks {
        for (x, a) in c.iter_mut().zip(acc.iter_mut()) {
            *x = exp_approx((*x - shift) * scale);
            *a += *x;
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for x in chunks.into_remainder() {
        *x = exp_approx((*x - shift) * scale);
        sum += *x;
    }
    sum
}

#[inline(always)]
fn quick_gelu_body(xs: &mut [f32]) {
    for x in xs.iter_mut() {
        // x·σ(1.702x) = x / (1 + e^(-1.702x))
        *x /= 1.0 + exp_approx(-1.702 * *x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_shifted_avx2(xs: &mut [f32], shift: f32, scale: f32) -> f32 {
    exp_shifted_body(xs, shift, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quick_gelu_avx2(xs: &mut [f32]) {
    quick_gelu_body(xs)
}

#[cfg(target_arch = "x86_64")]
pub(super) fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// `x ← exp(scale·(x − shift))` for every element; returns the sum of the results.
pub fn exp_shifted_inplace(xs: &mut [f32], shift: f32, scale: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has the features the function was compiled for.
        return unsafe { exp_shifted_avx2(xs, shift, scale) };
    }
    exp_shifted_body(xs, shift, scale)
}

/// `x ← x·σ(1.702x)` (QuickGELU) for every element.
pub fn quick_gelu_inplace(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: as above.
        return unsafe { quick_gelu_avx2(xs) };
    }
    quick_gelu_body(xs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_libm_to_a_few_ulp() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let got = exp_approx(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 3e-7, "worst relative error {worst:e}");
    }

    #[test]
    fn shifted_sum_is_the_sum() {
        let mut xs: Vec<f32> = (0..37).map(|i| i as f32 * 0.1).collect();
        let orig = xs.clone();
        let s = exp_shifted_inplace(&mut xs, 3.6, 0.5);
        let want: f32 = orig.iter().map(|x| ((x - 3.6) * 0.5).exp()).sum();
        assert!((s - want).abs() < 1e-5 * want, "{s} vs {want}");
        for (got, x) in xs.iter().zip(&orig) {
            assert!((got - ((x - 3.6) * 0.5).exp()).abs() < 1e-6);
        }
    }

    #[test]
    fn quick_gelu_matches_definition() {
        let mut xs: Vec<f32> = (-60..60).map(|i| i as f32 * 0.25).collect();
        let orig = xs.clone();
        quick_gelu_inplace(&mut xs);
        for (got, x) in xs.iter().zip(&orig) {
            let want = (*x as f64) / (1.0 + (-1.702 * *x as f64).exp());
            assert!(
                (*got as f64 - want).abs() < 1e-6 * (1.0 + want.abs()),
                "{x}: {got} vs {want}"
            );
        }
    }
}
