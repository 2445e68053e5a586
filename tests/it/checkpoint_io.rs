//! Checkpoint readers: `.pth` (torch.save zip) and `.safetensors` give the same named tensors, and broken
//! input of any kind gives an error that names the file instead of a panic.
//!
//! Fixtures: `tests/fixtures/tiny_a` and `tests/fixtures/aesthetic` are copies of the golden files written by
//! real torch; `tests/fixtures/pth` is written by `tools/gen_pth_fixtures.py` (views, dtypes, protocols).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use viclip::weights::{read_checkpoint, read_pth, read_pth_auto, read_safetensors, NamedTensors};
use viclip::Error;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The raw little-endian bytes of a tensor, for bit-exact comparison across dtypes.
fn raw(t: &Tensor) -> Vec<u8> {
    let t = t.flatten_all().expect("flatten");
    macro_rules! bytes {
        ($ty:ty, $f:expr) => {
            t.to_vec1::<$ty>()
                .expect("to_vec1")
                .into_iter()
                .flat_map($f)
                .collect()
        };
    }
    match t.dtype() {
        DType::F32 => bytes!(f32, |v| v.to_le_bytes()),
        DType::F64 => bytes!(f64, |v| v.to_le_bytes()),
        DType::F16 => bytes!(half::f16, |v| v.to_le_bytes()),
        DType::BF16 => bytes!(half::bf16, |v| v.to_le_bytes()),
        DType::I64 => bytes!(i64, |v| v.to_le_bytes()),
        DType::I32 => bytes!(i32, |v| v.to_le_bytes()),
        DType::I16 => bytes!(i16, |v| v.to_le_bytes()),
        DType::U32 => bytes!(u32, |v| v.to_le_bytes()),
        DType::U8 => t.to_vec1::<u8>().expect("to_vec1"),
        d => panic!("unexpected dtype {d:?}"),
    }
}

/// Same names (as a set), shapes, dtypes and bits.
fn assert_same(a: &NamedTensors, b: &NamedTensors, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: tensor count");
    let mut a: Vec<_> = a.iter().collect();
    let mut b: Vec<_> = b.iter().collect();
    a.sort_by(|x, y| x.0.cmp(&y.0));
    b.sort_by(|x, y| x.0.cmp(&y.0));
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb, "{what}: names");
        assert_eq!(ta.dims(), tb.dims(), "{what}: shape of {na}");
        assert_eq!(ta.dtype(), tb.dtype(), "{what}: dtype of {na}");
        assert!(raw(ta) == raw(tb), "{what}: values of {na} differ");
    }
}

fn names(t: &NamedTensors) -> Vec<&str> {
    t.iter().map(|(n, _)| n.as_str()).collect()
}

fn get<'a>(t: &'a NamedTensors, name: &str) -> &'a Tensor {
    &t.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
        .1
}

#[test]
fn tiny_a_pth_trainstyle_and_safetensors_agree() {
    let pth = read_pth(&fixture("tiny_a/model.pth"), Some("model")).expect("model.pth");
    let train =
        read_pth(&fixture("tiny_a/model_trainstyle.pth"), Some("model")).expect("trainstyle");
    let st = read_safetensors(&fixture("tiny_a/model.safetensors")).expect("safetensors");
    assert_eq!(pth.len(), 63);
    assert_eq!(
        names(&pth),
        names(&train),
        "both .pth files keep the state dict's order"
    );
    assert_same(&pth, &train, "model.pth vs model_trainstyle.pth");
    assert_same(&pth, &st, "model.pth vs model.safetensors");
    let temp = get(&pth, "temp");
    assert_eq!(temp.dims(), &[] as &[usize]);
    assert_eq!(temp.dtype(), DType::F32);

    // Automatic selection and content dispatch find the same tensors, in the same order.
    for file in ["tiny_a/model.pth", "tiny_a/model_trainstyle.pth"] {
        let auto = read_pth_auto(&fixture(file)).expect("auto");
        assert_eq!(names(&auto), names(&pth), "{file}");
        assert_same(&auto, &pth, file);
        let any = read_checkpoint(&fixture(file)).expect("read_checkpoint");
        assert_same(&any, &pth, file);
    }
    let any = read_checkpoint(&fixture("tiny_a/model.safetensors")).expect("read_checkpoint st");
    assert_eq!(names(&any), names(&st));
}

#[test]
fn aesthetic_heads_agree() {
    let v1 = read_pth(&fixture("aesthetic/aes_v1.pth"), None).expect("aes_v1.pth");
    assert_eq!(names(&v1), ["weight", "bias"]);
    assert_same(
        &v1,
        &read_safetensors(&fixture("aesthetic/aes_v1.safetensors")).expect("st"),
        "aes_v1",
    );

    let v2 = read_pth(&fixture("aesthetic/aes_v2.pth"), None).expect("aes_v2.pth");
    assert_eq!(v2.len(), 10);
    let cuda = read_pth(&fixture("aesthetic/aes_v2_cuda_tagged.pth"), None).expect("cuda tagged");
    assert_eq!(names(&v2), names(&cuda));
    assert_same(&v2, &cuda, "aes_v2 vs cuda tagged");
    assert_same(
        &v2,
        &read_safetensors(&fixture("aesthetic/aes_v2.safetensors")).expect("st"),
        "aes_v2",
    );

    let relu = read_pth(&fixture("aesthetic/aes_v2relu.pth"), None).expect("relu");
    assert_eq!(relu.len(), 10);
    let relu_auto = read_pth_auto(&fixture("aesthetic/aes_v2relu.pth")).expect("relu auto");
    assert_eq!(names(&relu), names(&relu_auto));
    assert_same(&relu, &relu_auto, "aes_v2relu");
}

fn f32s(t: &NamedTensors, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = get(t, name);
    assert_eq!(t.dtype(), DType::F32, "{name}");
    (
        t.dims().to_vec(),
        t.flatten_all().and_then(|t| t.to_vec1()).expect("f32"),
    )
}

#[test]
fn views_dtypes_and_protocols() {
    let p2 = read_pth(&fixture("pth/views_p2.pth"), None).expect("views_p2");
    for other in ["pth/views_p4.pth", "pth/views_p5.pth"] {
        let o = read_pth_auto(&fixture(other)).expect(other);
        assert_eq!(names(&o), names(&p2));
        assert_same(&o, &p2, other);
    }
    let base: Vec<f32> = (0..12).map(|i| i as f32).collect();
    assert_eq!(f32s(&p2, "base"), (vec![3, 4], base));
    let t = vec![0., 4., 8., 1., 5., 9., 2., 6., 10., 3., 7., 11.];
    assert_eq!(f32s(&p2, "t"), (vec![4, 3], t));
    assert_eq!(f32s(&p2, "row1"), (vec![4], vec![4., 5., 6., 7.]));
    assert_eq!(f32s(&p2, "col2"), (vec![3], vec![2., 6., 10.]));
    assert_eq!(
        f32s(&p2, "expanded"),
        (vec![2, 3], vec![0., 1., 2., 0., 1., 2.])
    );
    assert_eq!(f32s(&p2, "scalar"), (vec![], vec![5.]));
    assert_eq!(f32s(&p2, "empty"), (vec![0, 4], vec![]));
    assert_eq!(f32s(&p2, "sub"), (vec![2, 2], vec![5., 6., 9., 10.]));
    assert_eq!(f32s(&p2, "param"), (vec![2], vec![1.5, -2.5]));

    let vals = |name: &str, dtype: DType| {
        let t = get(&p2, name);
        assert_eq!(t.dtype(), dtype, "{name}");
        t.to_dtype(DType::F64)
            .and_then(|t| t.to_vec1::<f64>())
            .expect("values")
    };
    assert_eq!(
        get(&p2, "i64").to_vec1::<i64>().expect("i64"),
        [-(1i64 << 40), 7]
    );
    assert_eq!(vals("i32", DType::I32), [-5., (1 << 30) as f64]);
    assert_eq!(vals("i16", DType::I16), [-300., 300.]);
    assert_eq!(vals("i8", DType::I16), [-128., 127., -1.]);
    assert_eq!(get(&p2, "u8").to_vec1::<u8>().expect("u8"), [0, 200, 255]);
    assert_eq!(get(&p2, "bool").to_vec1::<u8>().expect("bool"), [1, 0, 1]);
    assert_eq!(vals("f16", DType::F16), [0.5, -2.0]);
    assert_eq!(vals("bf16", DType::BF16), [1.5, -2.0]);
    assert_eq!(vals("f64", DType::F64), [0.1, -1e300]);

    // Python 2 pickled OrderedDict([[k, v]]): items come as REDUCE arguments.
    let py2 = read_pth(&fixture("pth/py2_ordereddict.pth"), None).expect("py2");
    assert_eq!(f32s(&py2, "w"), (vec![2], vec![1.0, 2.0]));
}

/// Asserts a checkpoint error whose message names the file and contains every `needle`.
fn assert_ckpt_err(res: viclip::Result<NamedTensors>, path: &Path, needles: &[&str]) {
    let err = res.expect_err("expected an error");
    let msg = err.to_string();
    assert!(
        matches!(err, Error::Checkpoint { .. }),
        "not a Checkpoint error: {msg}"
    );
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .expect("file name");
    assert!(msg.contains(file), "message does not name {file}: {msg}");
    for n in needles {
        assert!(msg.contains(n), "message lacks {n:?}: {msg}");
    }
}

#[test]
fn selection_and_content_errors() {
    let aes = fixture("aesthetic/aes_v1.pth");
    assert_ckpt_err(
        read_pth(&aes, Some("model")),
        &aes,
        &["no key 'model'", "'weight'", "'bias'"],
    );

    let train = fixture("tiny_a/model_trainstyle.pth");
    assert_ckpt_err(read_pth(&train, None), &train, &["not a tensor"]);
    // The EasyDict config is a dict subclass, so it reads as a dict, but not a flat one.
    assert_ckpt_err(
        read_pth(&train, Some("config")),
        &train,
        &["'config'", "nested dict"],
    );
    assert_ckpt_err(
        read_pth(&train, Some("epoch")),
        &train,
        &["'epoch'", "int (9)", "not a state dict"],
    );

    let nested = fixture("pth/nested.pth");
    assert_ckpt_err(
        read_pth(&nested, Some("model")),
        &nested,
        &["`enc`", "nested dict"],
    );
    assert_ckpt_err(read_pth_auto(&nested), &nested, &["`enc`", "nested dict"]);
    let non_tensor = fixture("pth/non_tensor.pth");
    assert_ckpt_err(
        read_pth_auto(&non_tensor),
        &non_tensor,
        &["`n`", "int (3)", "not a tensor"],
    );
    let big = fixture("pth/bigendian.pth");
    assert_ckpt_err(read_pth(&big, None), &big, &["big", "little-endian"]);
    let short = fixture("pth/short_storage.pth");
    assert_ckpt_err(
        read_pth(&short, None),
        &short,
        &["truncated", "short_storage/data/0", "`w`", "holds 8 bytes"],
    );

    let missing = fixture("pth/does_not_exist.pth");
    let err = read_checkpoint(&missing).expect_err("missing file");
    assert!(
        matches!(&err, Error::Io { path, .. } if path == &missing),
        "{err}"
    );
    assert!(err.to_string().contains("does_not_exist.pth"));
    assert!(matches!(read_pth(&missing, None), Err(Error::Io { .. })));
    assert!(matches!(read_safetensors(&missing), Err(Error::Io { .. })));
}

/// Writes a zip of stored entries.
fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let file = std::fs::File::create(path).expect("create");
    let mut zip = zip::ZipWriter::new(file);
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        zip.start_file(name.as_str(), opts).expect("start_file");
        zip.write_all(data).expect("write");
    }
    zip.finish().expect("finish");
}

fn zip_entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).expect("entry");
            let mut data = Vec::new();
            f.read_to_end(&mut data).expect("read");
            (f.name().expect("name").to_string(), data)
        })
        .collect()
}

#[test]
fn broken_files_give_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, data: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, data).expect("write");
        p
    };
    // Random bytes (a fixed xorshift stream), an empty file, a legacy pickle, a non-torch zip.
    let mut x = 0x9e3779b97f4a7c15u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let p = write("noise.bin", &noise);
    assert_ckpt_err(
        read_checkpoint(&p),
        &p,
        &["not a PyTorch checkpoint or safetensors file"],
    );
    assert_ckpt_err(
        read_pth(&p, Some("model")),
        &p,
        &["not a PyTorch checkpoint"],
    );
    assert_ckpt_err(read_safetensors(&p), &p, &["safetensors"]);
    let p = write("empty.pth", b"");
    assert_ckpt_err(read_checkpoint(&p), &p, &["empty file"]);
    let p = write(
        "legacy.pth",
        b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.",
    );
    assert_ckpt_err(read_checkpoint(&p), &p, &["legacy", "re-save"]);
    let p = dir.path().join("no_pickle.pth");
    write_zip(
        &p,
        &[
            ("archive/data/0".into(), vec![0; 16]),
            ("archive/byteorder".into(), b"little".to_vec()),
        ],
    );
    assert_ckpt_err(read_checkpoint(&p), &p, &["no data.pkl"]);

    // The tiny model truncated anywhere.
    let full = std::fs::read(fixture("tiny_a/model.pth")).expect("model.pth");
    for frac in [0.0005, 0.1, 0.5, 0.9, 0.99, 0.99999] {
        let n = (full.len() as f64 * frac) as usize;
        let p = write(&format!("trunc_{n}.pth"), &full[..n]);
        assert_ckpt_err(read_pth(&p, Some("model")), &p, &[]);
        assert_ckpt_err(read_checkpoint(&p), &p, &[]);
    }
    // The safetensors twin truncated, and with a huge declared header.
    let st = std::fs::read(fixture("tiny_a/model.safetensors")).expect("st");
    for n in [9, 1000, st.len() / 2, st.len() - 1] {
        let p = write(&format!("trunc_{n}.safetensors"), &st[..n]);
        assert_ckpt_err(read_safetensors(&p), &p, &[]);
    }
    let mut huge = st.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let p = write("huge.safetensors", &huge);
    assert_ckpt_err(read_safetensors(&p), &p, &[]);
}

/// Rewrites data.pkl of a small checkpoint (valid zip, valid CRC) with every byte changed and at every
/// length: the pickle machine must answer with Ok or a checkpoint error, never panic or hang.
#[test]
fn corrupt_pickles_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entries = zip_entries(&fixture("pth/views_p4.pth"));
    let pkl_at = entries
        .iter()
        .position(|(n, _)| n.ends_with("/data.pkl"))
        .expect("data.pkl");
    let pkl = entries[pkl_at].1.clone();
    let path = dir.path().join("fuzz.pth");
    let check = |data: Vec<u8>| {
        let mut e = entries.clone();
        e[pkl_at].1 = data;
        write_zip(&path, &e);
        if let Err(err) = read_pth_auto(&path) {
            assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
        }
    };
    for n in 0..pkl.len() {
        check(pkl[..n].to_vec());
    }
    for i in 0..pkl.len() {
        for v in [0x00, 0xff, pkl[i] ^ 0x01] {
            let mut d = pkl.clone();
            d[i] = v;
            check(d);
        }
    }
}

/// A FIFO or a directory given as a checkpoint is refused by name instead of blocking in `open`.
#[cfg(unix)]
#[test]
fn special_files_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("model.safetensors");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(st.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let paths = [fifo.clone(), dir.path().to_path_buf()];
    std::thread::spawn(move || {
        let out: Vec<String> = paths
            .iter()
            .flat_map(|p| {
                [
                    read_checkpoint(p).map(|_| ()),
                    read_safetensors(p).map(|_| ()),
                    viclip::load_model(
                        p,
                        &viclip::ViClipConfig::viclip_b16(),
                        &candle_core::Device::Cpu,
                        candle_core::DType::F32,
                    )
                    .map(|_| ()),
                ]
            })
            .map(|r| r.expect_err("a special file must be refused").to_string())
            .collect();
        let _ = tx.send(out);
    });
    // Only a guard against a hang: a correct reader answers at once.
    let msgs = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("reading a FIFO checkpoint blocked");
    for m in &msgs[..3] {
        assert!(
            m.contains("model.safetensors") && m.contains("is a FIFO"),
            "{m}"
        );
    }
    for m in &msgs[3..] {
        assert!(m.contains("is a directory, not a checkpoint"), "{m}");
    }
}
