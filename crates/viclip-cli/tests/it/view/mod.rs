//! `viclip view` over HTTP: a small run made with the tiny model, the server started on
//! 127.0.0.1:0 in the test; every endpoint, paging and sorting, range requests, traversal and
//! injection attempts, a run in progress, a run without embeddings, and (where `chromium` is
//! installed) the page rendered by a headless browser.

mod view_common;

use crate::score_common;

use std::path::Path;

use viclip_cli::view::{self, ViewArgs};
use view_common::{get, make_run, request, CAPTIONS};

fn serve(out: &Path) -> view::Server {
    let state = view::open(&ViewArgs::new(out.to_path_buf())).expect("open the run");
    view::serve(state, "127.0.0.1:0".parse().unwrap()).expect("serve")
}

#[test]
fn every_endpoint_of_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = make_run(dir.path(), true);
    let srv = serve(&out);
    let a = srv.addr;

    let page = get(a, "/");
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("viclip view"));
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'self'"));
    assert_eq!(get(a, "/app.js").status, 200);
    assert_eq!(get(a, "/app.css").status, 200);

    let s = get(a, "/api/summary").json();
    assert_eq!(s["rows"], 7);
    assert_eq!(s["complete"], 3);
    assert_eq!(s["status"]["missing_video"], 1);
    assert_eq!(s["aesthetic"], true);
    assert_eq!(s["search"]["on"], true, "{s}");

    let h = get(a, "/api/histogram?col=viclip_sim&bins=10").json();
    let ok = s["status"]["ok"].as_u64().unwrap();
    assert_eq!(h["count"], ok);
    assert_eq!(h["bins"].as_array().unwrap().len(), 10);
    let sum: u64 = h["bins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, ok);
    assert_eq!(get(a, "/api/histogram?col=aesthetic").json()["count"], ok);
    assert_eq!(get(a, "/api/histogram?bins=100000").status, 400);
    assert_eq!(get(a, "/api/histogram?col=passwd").status, 400);

    // Paging in both orders: the same clips, reversed; pages of 2 cover them.
    let desc = get(a, "/api/clips?sort=viclip_sim&order=desc&limit=200").json();
    let asc = get(a, "/api/clips?sort=viclip_sim&order=asc&limit=200").json();
    let sims = |v: &serde_json::Value| -> Vec<f64> {
        v["clips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["viclip_sim"].as_f64().unwrap())
            .collect()
    };
    let (d, mut u) = (sims(&desc), sims(&asc));
    assert_eq!(d.len() as u64, ok);
    assert!(d.windows(2).all(|w| w[0] >= w[1]), "{d:?}");
    u.reverse();
    assert_eq!(d, u);
    let p2 = get(a, "/api/clips?sort=viclip_sim&offset=2&limit=2").json();
    assert_eq!(p2["total"].as_u64().unwrap(), ok);
    assert_eq!(sims(&p2), d[2..4].to_vec());
    let rows = get(a, "/api/clips?sort=row&order=asc&limit=200").json();
    let ids: Vec<u64> = rows["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (0..7).collect::<Vec<_>>());
    let missing = get(a, "/api/clips?sort=row&status=missing_video").json();
    assert_eq!(missing["total"], 1);
    assert_eq!(missing["clips"][0]["caption"], CAPTIONS[3]);
    let lo = d[d.len() - 1] as f32;
    let ranged = get(a, &format!("/api/clips?min={}&max=10", d[1])).json();
    assert_eq!(ranged["total"], 2, "{lo} {ranged}");
    assert_eq!(get(a, "/api/clips?limit=100000").status, 400);
    assert_eq!(get(a, "/api/clips?limit=0").status, 400);
    assert_eq!(get(a, "/api/clips?sort=../../etc").status, 400);

    let c = get(a, "/api/clip/2").json();
    assert_eq!(c["caption"], CAPTIONS[2]); // a caption holding <script> is data, never markup
    assert_eq!(get(a, "/api/clip/7").status, 404);
    assert_eq!(get(a, "/api/clip/18446744073709551615").status, 404);

    let samples = get(a, "/api/samples?col=viclip_sim&buckets=3&per=2&seed=1").json();
    let n: usize = samples
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["clips"].as_array().unwrap().len())
        .sum();
    assert!(n >= 2, "{samples}");
    assert_eq!(get(a, "/api/samples?per=1000").status, 400);

    let t = get(a, "/api/threshold?frac=0.5&min_dur=0&max_dur=10").json();
    assert_eq!(t["kept"].as_u64().unwrap(), ok / 2);
    let cmd = t["command"].as_str().unwrap();
    assert!(cmd.starts_with("viclip subset flt --input "), "{cmd}");
    assert!(
        cmd.contains("--top-frac 0.5 --min-duration 0 --max-duration 10"),
        "{cmd}"
    );
    let both = get(a, "/api/threshold?frac=1&min_dur=0&max_dur=10&min_aes=-100").json();
    assert!(both["command"]
        .as_str()
        .unwrap()
        .contains("&& viclip subset aes --input flt.parquet"));
    assert_eq!(both["kept"].as_u64().unwrap(), ok);
    assert_eq!(get(a, "/api/threshold?frac=2").status, 400);
    // The commands shown build exactly the rows the preview keeps (FLT alone: half the scored rows).
    for (i, (query, expect)) in [
        ("frac=0.5&min_dur=0&max_dur=10", Some(ok / 2)),
        ("frac=0.6&min_dur=0&max_dur=10&min_aes=6", None),
    ]
    .into_iter()
    .enumerate()
    {
        let t = get(a, &format!("/api/threshold?{query}")).json();
        let kept = t["kept"].as_u64().unwrap();
        assert_eq!(expect.unwrap_or(kept), kept);
        let work = dir.path().join(format!("subset{i}"));
        std::fs::create_dir_all(&work).unwrap();
        let bin = env!("CARGO_BIN_EXE_viclip");
        let cmd = t["command"]
            .as_str()
            .unwrap()
            .replace("viclip subset", &format!("{bin} subset"));
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .current_dir(&work)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        let rows: usize = score_common::read_parquet(&work.join("kept.parquet"))
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(rows as u64, kept, "{cmd}");
    }
    assert_eq!(
        get(a, "/api/scatter").json().as_array().unwrap().len() as u64,
        ok
    );

    // The frames the model saw: T frames of S x S side by side.
    let f = get(a, "/clip/0/frames.png");
    assert_eq!(f.status, 200, "{}", String::from_utf8_lossy(&f.body));
    let img = image::load_from_memory(&f.body).unwrap();
    assert_eq!((img.width(), img.height()), (8 * 112, 112));
    assert_eq!(get(a, "/clip/3/frames.png").status, 404); // its video is missing

    // Search: each caption finds its own row first (video embeddings = caption embeddings here).
    for (row, cap) in [(0, CAPTIONS[0]), (6, CAPTIONS[6])] {
        let q: String = cap.replace(' ', "%20");
        let r = get(a, &format!("/api/search?q={q}&k=3")).json();
        assert_eq!(r["hits"][0]["clip"]["id"], row, "{r}");
        assert!(
            (r["hits"][0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-2,
            "{r}"
        );
    }
    assert_eq!(get(a, "/api/search?q=x&k=100000").status, 400);
    assert_eq!(get(a, "/api/search?q=").status, 400);
    assert_eq!(
        get(a, &format!("/api/search?q={}", "a".repeat(2000))).status,
        400
    );
    srv.stop();
}

#[test]
fn videos_with_range_requests() {
    let dir = tempfile::tempdir().unwrap();
    let out = make_run(dir.path(), false);
    let srv = serve(&out);
    let a = srv.addr;
    let file = std::fs::read(dir.path().join("videos/vidA.mp4")).unwrap();
    let len = file.len();

    let full = get(a, "/clip/0/video");
    assert_eq!(full.status, 200);
    assert_eq!(full.body, file);
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert_eq!(full.header("content-type"), Some("video/mp4"));
    let etag = full.header("etag").unwrap().to_string();
    let modified = full.header("last-modified").unwrap().to_string();

    let r = request(a, "GET", "/clip/0/video", &[("Range", "bytes=0-1")]); // Safari's probe
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &file[..2]);
    assert_eq!(
        r.header("content-range").unwrap(),
        format!("bytes 0-1/{len}")
    );
    let r = request(a, "GET", "/clip/0/video", &[("Range", "bytes=100-")]); // Chrome's seek
    assert_eq!((r.status, r.body.as_slice()), (206, &file[100..]));
    let r = request(a, "GET", "/clip/0/video", &[("Range", "bytes=-50")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &file[len - 50..]));
    let r = request(
        a,
        "GET",
        "/clip/0/video",
        &[("Range", &format!("bytes={len}-"))],
    );
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range").unwrap(), format!("bytes */{len}"));
    let r = request(a, "GET", "/clip/0/video", &[("Range", "bytes=0-1,4-5")]);
    assert_eq!(r.status, 200);
    let r = request(a, "GET", "/clip/0/video", &[("If-None-Match", &etag)]);
    assert_eq!((r.status, r.body.len()), (304, 0));
    let r = request(
        a,
        "GET",
        "/clip/0/video",
        &[("If-Modified-Since", &modified)],
    );
    assert_eq!(r.status, 304);
    let r = request(
        a,
        "GET",
        "/clip/0/video",
        &[("Range", "bytes=0-9"), ("If-Range", "\"stale\"")],
    );
    assert_eq!(r.status, 200);
    let r = request(
        a,
        "GET",
        "/clip/0/video",
        &[("Range", "bytes=0-9"), ("If-Range", &etag)],
    );
    assert_eq!(r.status, 206);
    let r = request(a, "HEAD", "/clip/0/video", &[]);
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.header("content-length").unwrap(), len.to_string());
    assert_eq!(
        get(a, "/clip/1/video").header("content-type"),
        Some("video/webm")
    );
    srv.stop();
}

#[test]
fn traversal_and_injection_attempts_fail() {
    let dir = tempfile::tempdir().unwrap();
    let out = make_run(dir.path(), false);
    let srv = serve(&out);
    let a = srv.addr;
    let vid = std::fs::read(dir.path().join("videos/vidA.mp4")).unwrap();
    for target in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/clip/..%2f..%2fetc%2fpasswd/video",
        "/clip/%2fetc%2fpasswd/frames.png",
        "/clip/-1/video",
        "/run.json",
        "/00000.parquet",
        "/api/clip/0%00",
    ] {
        let r = get(a, target);
        assert!(matches!(r.status, 400 | 404), "{target}: {}", r.status);
        assert!(
            !String::from_utf8_lossy(&r.body).contains("root:"),
            "{target}"
        );
    }
    // Query strings never name files: the clip's own video comes back.
    let r = get(a, "/clip/0/video?path=/etc/passwd&file=../../x");
    assert_eq!((r.status, r.body == vid), (200, true));
    // A symbolic link out of the video root and an absolute path outside it are refused.
    let r = get(a, "/clip/4/video");
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("outside the video root"));
    assert_eq!(get(a, "/clip/4/frames.png").status, 403);
    let r = get(a, "/clip/5/video");
    assert!(matches!(r.status, 403 | 404), "{}", r.status);
    assert!(!String::from_utf8_lossy(&r.body).contains("localhost"));
    // A page of another site reaching 127.0.0.1 through a rebound DNS name is refused.
    let r = request(a, "GET", "/api/summary", &[("Host", "evil.example:80")]);
    assert_eq!(r.status, 403);
    // Writes are not served.
    assert_eq!(
        request(a, "POST", "/api/clips", &[("Content-Length", "0")]).status,
        405
    );
    assert_eq!(
        request(a, "PUT", "/clip/0/video", &[("Content-Length", "0")]).status,
        405
    );
    srv.stop();
}

#[test]
fn a_run_in_progress_and_one_without_embeddings() {
    let dir = tempfile::tempdir().unwrap();
    let out = make_run(dir.path(), false);
    // Shard 1 loses its stats (as before it is written) and a process holds its lock.
    let stats = out.join("00001_stats.json");
    let saved = std::fs::read(&stats).unwrap();
    std::fs::remove_file(&stats).unwrap();
    let lock_path = viclip_data::score::shard_lock_path(&out, 1);
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(&lock_path).unwrap();
    use std::os::fd::AsRawFd;
    assert_eq!(
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );

    let srv = serve(&out);
    let a = srv.addr;
    let s = get(a, "/api/summary").json();
    assert_eq!(
        (s["complete"].as_u64(), s["in_flight"].as_u64()),
        (Some(2), Some(1)),
        "{s}"
    );
    assert_eq!(s["shards"][1], "in_flight");
    assert_eq!(s["rows"], 4);
    let r = get(a, "/api/clip/3");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("not complete yet"));
    assert_eq!(get(a, "/clip/4/video").status, 404);
    // Search is off, and says why.
    assert_eq!(s["search"]["on"], false);
    let r = get(a, "/api/search?q=bars");
    assert_eq!(r.status, 503);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("without --embeddings"));

    // The shard completes: the view picks it up.
    std::fs::write(&stats, saved).unwrap();
    drop(lock);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let s = get(a, "/api/summary").json();
    assert_eq!(
        (s["complete"].as_u64(), s["rows"].as_u64()),
        (Some(3), Some(7)),
        "{s}"
    );
    srv.stop();
}

#[test]
fn weights_other_than_the_runs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = make_run(dir.path(), true);
    let other = dir.path().join("other.safetensors");
    let mut w = std::fs::read(score_common::TINY_WEIGHTS).unwrap();
    let n = w.len();
    w[n - 1] ^= 1;
    std::fs::write(&other, w).unwrap();
    let mut args = ViewArgs::new(out);
    args.weights = Some(other);
    let e = view::open(&args).err().expect("refused").to_string();
    assert!(
        e.contains("sha256") && e.contains("pass the run's own checkpoint"),
        "{e}"
    );
}

#[test]
fn static_export() {
    let dir = tempfile::tempdir().unwrap();
    let out = make_run(dir.path(), false);
    let mut args = ViewArgs::new(out);
    let dest = dir.path().join("export");
    args.export = Some(dest.clone());
    view::run(&args).unwrap();
    let html = std::fs::read_to_string(dest.join("index.html")).unwrap();
    assert!(html.contains("class=\"bar\""));
    assert!(!html.contains("<script>alert"), "a caption became markup");
    let strips = std::fs::read_dir(dest.join("frames")).unwrap().count();
    assert!(strips >= 2, "{strips} strips");
    for e in std::fs::read_dir(dest.join("frames")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(html.contains(&format!("frames/{name}")), "{name}");
    }
}

mod view_browser;
mod view_scale;
