//! `x·Wᵀ + b` for f32 on the CPU as one GEMM call whose destination starts as the bias rows, instead
//! of candle's matmul followed by a broadcast add (a second full pass over, and a second allocation
//! of, the output: for an L/14 clip's MLP that is 34 MB per layer). Other devices and dtypes, and
//! inputs that are not contiguous, go through `candle_nn::Linear`.

use candle_core::{CpuStorage, DType, Device, Module, Result, Storage, Tensor};
use candle_nn::Linear;

/// Applies `lin` to `x [.., K]` → `[.., N]`.
pub fn forward(lin: &Linear, x: &Tensor) -> Result<Tensor> {
    let w = lin.weight();
    let cpu_f32 = super::cpu_kernels(x.device(), x.dtype()) && w.dtype() == DType::F32;
    if !cpu_f32 || !x.is_contiguous() || !w.is_contiguous() || x.rank() == 0 {
        return lin.forward(x);
    }
    let (n, k) = w.dims2()?;
    let dims = x.dims();
    if dims[dims.len() - 1] != k {
        // Let candle report the shape mismatch in its words.
        return lin.forward(x);
    }
    let m = x.elem_count() / k.max(1);
    let mut out = match lin.bias() {
        Some(b) if b.dims() == [n] && b.dtype() == DType::F32 => {
            let b = b.contiguous()?.to_vec1::<f32>()?;
            let mut out = Vec::with_capacity(m * n);
            for _ in 0..m {
                out.extend_from_slice(&b);
            }
            out
        }
        Some(_) => return lin.forward(x),
        None => vec![0f32; m * n],
    };
    {
        let (xs, xl) = x.storage_and_layout();
        let (ws, wl) = w.storage_and_layout();
        let (Storage::Cpu(CpuStorage::F32(xd)), Storage::Cpu(CpuStorage::F32(wd))) = (&*xs, &*ws)
        else {
            return lin.forward(x);
        };
        let (Some((x0, x1)), Some((w0, w1))) = (xl.contiguous_offsets(), wl.contiguous_offsets())
        else {
            return lin.forward(x);
        };
        let (xd, wd) = (&xd[x0..x1], &wd[w0..w1]);
        if m > 0 && n > 0 {
            // SAFETY: `xd` is `[m, k]` row-major, `wd` is `[n, k]` row-major (read as the `[k, n]`
            // matrix Wᵀ with column stride k), `out` is `[m, n]` row-major; all lengths were checked
            // through the shapes above.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    out.as_mut_ptr(),
                    1,
                    n as isize,
                    true,
                    xd.as_ptr(),
                    1,
                    k as isize,
                    wd.as_ptr(),
                    k as isize,
                    1,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::Rayon(rayon::current_num_threads()),
                );
            }
        }
    }
    let mut shape = dims.to_vec();
    if let Some(last) = shape.last_mut() {
        *last = n;
    }
    Tensor::from_vec(out, shape, &Device::Cpu)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn values(seed: u32, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
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
            .to_scalar()
            .unwrap()
    }

    #[test]
    fn equals_candle_linear() {
        let w = values(1, &[3 * 40, 24]);
        let b = values(2, &[3 * 40]);
        for (shape, narrow) in [
            (vec![2, 7, 24], false),
            (vec![5, 24], true),
            (vec![1, 24], true),
        ] {
            let x = values(3, &shape);
            // A weight with an offset into its storage (the q/k/v parts of a packed in_proj).
            let (w, b) = if narrow {
                (w.narrow(0, 40, 80).unwrap(), b.narrow(0, 40, 80).unwrap())
            } else {
                (w.clone(), b.clone())
            };
            for lin in [
                Linear::new(w.clone(), Some(b.clone())),
                Linear::new(w.clone(), None),
            ] {
                let got = forward(&lin, &x).unwrap();
                let want = lin.forward(&x).unwrap();
                assert_eq!(got.dims(), want.dims());
                assert!(max_abs(&got, &want) < 1e-5, "{shape:?}");
            }
        }
        // A mismatched input is candle's error, not a panic.
        let lin = Linear::new(w, Some(b));
        assert!(forward(&lin, &values(4, &[3, 5])).is_err());
    }
}
