//! The strided single-threaded matrix product of the portable attention path: `gemm::gemm`, or under
//! Miri an element-by-element loop over the same addresses.

/// `dst[m, n] = Σ_k lhs[m, k] · rhs[k, n]` over strided matrices (column stride, then row stride, in
/// elements), written without reading `dst`: the single-threaded `gemm::gemm` call of this module.
///
/// # Safety
/// Every element the strides address must lie inside its buffer, and `dst` must be writable there.
#[allow(clippy::too_many_arguments)]
#[cfg(not(miri))]
pub(super) unsafe fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_cs: isize,
    dst_rs: isize,
    read_dst: bool,
    lhs: *const f32,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const f32,
    rhs_cs: isize,
    rhs_rs: isize,
    alpha: f32,
    beta: f32,
    conj_dst: bool,
    conj_lhs: bool,
    conj_rhs: bool,
    parallelism: gemm::Parallelism,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        dst_cs,
        dst_rs,
        read_dst,
        lhs,
        lhs_cs,
        lhs_rs,
        rhs,
        rhs_cs,
        rhs_rs,
        alpha,
        beta,
        conj_dst,
        conj_lhs,
        conj_rhs,
        parallelism,
    )
}

/// Under Miri the `gemm` crate cannot run (it reads the CPU's cache sizes through `cpuid`), so the
/// same strided product is computed element by element: Miri then checks that every address this
/// module hands to the GEMM is in bounds and that the tasks' writes do not overlap.
#[allow(clippy::too_many_arguments)]
#[cfg(miri)]
pub(super) unsafe fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_cs: isize,
    dst_rs: isize,
    _read_dst: bool,
    lhs: *const f32,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const f32,
    rhs_cs: isize,
    rhs_rs: isize,
    _alpha: f32,
    beta: f32,
    _conj_dst: bool,
    _conj_lhs: bool,
    _conj_rhs: bool,
    _parallelism: gemm::Parallelism,
) {
    for i in 0..m as isize {
        for j in 0..n as isize {
            let mut acc = 0f32;
            for c in 0..k as isize {
                acc += *lhs.offset(i * lhs_rs + c * lhs_cs) * *rhs.offset(c * rhs_rs + j * rhs_cs);
            }
            *dst.offset(i * dst_rs + j * dst_cs) = beta * acc;
        }
    }
}
