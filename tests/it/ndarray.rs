//! `Embeddings::to_ndarray` / `into_ndarray` (`ndarray` feature): the same values, rows and shape as
//! `to_vec2`, from contiguous and strided tensors and for no rows.

use candle_core::{Device, Tensor};
use viclip::Embeddings;

fn rows(e: &Embeddings) -> Vec<Vec<f32>> {
    e.to_vec2().expect("to_vec2")
}

#[test]
fn ndarray_holds_the_rows_of_to_vec2() {
    // Three rows of dimension 4 that are not unit norm before normalisation.
    let data: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) * 0.37).collect();
    let x = Tensor::from_vec(data, (3, 4), &Device::Cpu).expect("tensor");
    let e = Embeddings::from_unnormalized(&x).expect("normalise");
    let a = e.to_ndarray().expect("ndarray");
    assert_eq!(a.shape(), &[3, 4]);
    let want = rows(&e);
    for (i, row) in want.iter().enumerate() {
        assert_eq!(a.row(i).to_vec(), *row, "row {i}");
    }
    // Unit rows, computed from the array itself.
    for r in a.rows() {
        let norm: f32 = r.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-6, "{norm}");
    }
    let owned = e.clone().into_ndarray().expect("into");
    assert_eq!(owned, a);

    // A strided (transposed) input: the array follows the logical rows, not the memory order.
    let t = Tensor::from_vec(
        (0..12).map(|i| i as f32 + 1.0).collect(),
        (4, 3),
        &Device::Cpu,
    )
    .expect("tensor")
    .t()
    .expect("transpose");
    let e = Embeddings::from_unnormalized(&t).expect("normalise");
    let a = e.to_ndarray().expect("ndarray");
    assert_eq!(a.shape(), &[3, 4]);
    for (i, row) in rows(&e).iter().enumerate() {
        assert_eq!(a.row(i).to_vec(), *row, "row {i}");
    }

    let none = Embeddings::from_unnormalized(
        &Tensor::zeros((0, 4), candle_core::DType::F32, &Device::Cpu).expect("zeros"),
    )
    .expect("empty");
    assert_eq!(none.into_ndarray().expect("empty").shape(), &[0, 4]);
}
