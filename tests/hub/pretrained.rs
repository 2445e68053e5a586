//! `ViClip::from_pretrained` (`hub` feature) fails with typed errors naming the checkpoint before
//! anything is downloaded: an unknown name, a manifest entry that is not a ViCLIP checkpoint, and a
//! file missing from an empty cache in offline mode. Nothing here reaches the network.
//!
//! Run with `cargo test -p viclip --features hub --test hub`.

use viclip::{Error, LoadOptions, ViClip};

/// One test holding [`crate::ENV`], so setting the environment cannot race another test of this binary.
#[test]
fn unknown_and_offline_names_fail_with_typed_errors_naming_them() {
    let _env = crate::ENV.lock().unwrap_or_else(|e| e.into_inner());
    let e = ViClip::from_pretrained("no-such-checkpoint", LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, Error::Config { source_name, .. } if source_name == "no-such-checkpoint"),
        "{e:?}"
    );
    // The message lists the names that exist.
    assert!(
        e.to_string().contains("viclip-l14-internvid-10m-flt"),
        "{e}"
    );

    // A CLIP image tower is in the manifest but is no ViCLIP checkpoint.
    let e = ViClip::from_pretrained("clip-vit-l14", LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, Error::Config { source_name, .. } if source_name == "clip-vit-l14"),
        "{e:?}"
    );

    // Offline with an empty cache: nothing to load, and no download is tried.
    let cache = tempfile::tempdir().expect("tempdir");
    std::env::set_var("HF_HUB_OFFLINE", "1");
    std::env::set_var("HF_HOME", cache.path());
    let name = "viclip-b16-internvid-10m-flt";
    let e = match ViClip::from_pretrained_with_path(name, LoadOptions::default()) {
        Err(e) => e,
        Ok((_, fetched)) => panic!("loaded {} from an empty cache", fetched.path.display()),
    };
    assert!(
        matches!(&e, Error::Download { msg, .. } if msg.contains(name) && msg.contains("HF_HUB_OFFLINE")),
        "{e:?}"
    );
    assert!(e.to_string().contains(name), "{e}");
}
