//! The hub path without a network: with `HF_HUB_OFFLINE=1`, a checkpoint is taken from the Hugging Face
//! cache layout (`hub/models--owner--name/snapshots/<rev>/<file>`) and hashed; absent, it is a clear error.
//! It sets process environment variables, so it lives in the `hub` binary and holds [`crate::ENV`].

use viclip::manifest::{fetch, find};
use viclip::Error;

#[test]
fn offline_mode_reads_the_cache_and_reports_the_hash() {
    let _env = crate::ENV.lock().unwrap_or_else(|e| e.into_inner());
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("HF_HOME", home.path());
    std::env::remove_var("HF_HUB_CACHE");
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let entry = find("viclip-b16-internvid-10m-flt").unwrap();

    let e = fetch(&entry).unwrap_err();
    assert!(matches!(e, Error::Download { .. }), "{e}");
    assert!(e.to_string().contains("HF_HUB_OFFLINE"), "{e}");

    let repo = entry.repo.clone().expect("a hub entry");
    let repo_dir = home
        .path()
        .join("hub")
        .join(format!("models--{}", repo.replace('/', "--")));
    let snap = repo_dir.join("snapshots").join("abc123");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
    std::fs::write(repo_dir.join("refs").join("main"), "abc123").unwrap();
    std::fs::write(snap.join(&entry.file), b"abc").unwrap();
    let got = fetch(&entry).unwrap();
    assert_eq!(got.path, snap.join(&entry.file));
    assert_eq!(
        got.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(!got.pinned);
}
