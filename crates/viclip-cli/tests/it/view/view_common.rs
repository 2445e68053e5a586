//! Fixtures of the `viclip view` tests: a small scored run made with the tiny model (with aesthetic
//! scores and embeddings), a hostile row or two, and a minimal HTTP/1.1 client.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::score_common;
use crate::score_common::bin::{run_ok, score_args};

pub const AES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/aesthetic"
);

/// Captions of the run's rows, in row order.
pub const CAPTIONS: [&str; 7] = [
    "a colourful test pattern",
    "colour bars",
    "<script>alert(1)</script>",
    "nothing here",
    "a link out of the root",
    "an absolute path",
    "moving stripes",
];

/// A run in `dir/out` over videos in `dir/videos`: 7 rows in shards of 3 (the last of 1); row 3's
/// video is missing, row 4's is a symbolic link out of the video root, row 5 names /etc/hostname.
/// With `embeddings`, each shard's video embeddings are then replaced by its caption embeddings
/// (same size, so the shard stays complete): a search for a caption must find its own row first.
pub fn make_run(dir: &Path, embeddings: bool) -> PathBuf {
    let videos = dir.join("videos");
    let outside = dir.join("outside");
    std::fs::create_dir_all(&videos).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    score_common::video(&videos, "vidA.mp4", "testsrc2");
    let webm = videos.join("vidB.webm");
    score_common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "smptebars=size=160x120:rate=10:duration=3",
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        webm.to_str().unwrap(),
    ]);
    score_common::video(&outside, "secret.mp4", "testsrc");
    std::os::unix::fs::symlink(outside.join("secret.mp4"), videos.join("link.mp4")).unwrap();
    let table = dir.join("t.csv");
    let rows = [
        ("vidA.mp4", 0.0, 1.5),
        ("vidB.webm", 0.5, 2.5),
        ("vidA.mp4", 1.0, 2.9),
        ("missing.mp4", 0.0, 1.0),
        ("link.mp4", 0.0, 1.0),
        ("/etc/hostname", 0.0, 1.0),
        ("vidA.mp4", 0.2, 2.2),
    ];
    let mut text = String::from("path,caption,start,end\n");
    for (r, c) in rows.iter().zip(CAPTIONS) {
        text.push_str(&format!("{},\"{}\",{},{}\n", r.0, c, r.1, r.2));
    }
    std::fs::write(&table, text).unwrap();
    let out = dir.join("out");
    let mut args = score_args(&table, &out, Some(&videos), 3, &[]);
    if !embeddings {
        args.retain(|a| a != "--embeddings");
    }
    let aes = Path::new(AES);
    for a in [
        "--aesthetic".to_string(),
        "--clip-weights".into(),
        aes.join("clip_vision.safetensors").display().to_string(),
        "--clip-config".into(),
        aes.join("config.json").display().to_string(),
        "--aesthetic-head".into(),
        aes.join("aes_v2.safetensors").display().to_string(),
    ] {
        args.push(a);
    }
    run_ok(&args);
    if embeddings {
        for k in 0..3 {
            let t = out.join(format!("text_emb/text_emb_{k:05}.npy"));
            std::fs::copy(&t, out.join(format!("video_emb/video_emb_{k:05}.npy"))).unwrap();
        }
    }
    out
}

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, h: &str) -> Option<&str> {
        self.headers
            .get(&h.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// `METHOD target` with `headers`, sent as written (the target is not normalised).
pub fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let host = headers
        .iter()
        .find(|(k, _)| *k == "Host")
        .map_or(addr.to_string(), |h| h.1.to_string());
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers.iter().filter(|(k, _)| *k != "Host") {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t == "chunked")
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let i = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..i]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
}

/// `GET target`.
pub fn get(addr: SocketAddr, target: &str) -> Resp {
    request(addr, "GET", target, &[])
}
