//! The `viclip view` page in headless Chromium.

use super::serve;
use super::view_common::{make_run, CAPTIONS};

/// The headless browser: `chromium` or `chromium-browser` on the PATH.
fn chromium() -> Option<String> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .map(String::from)
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn browse(chrome: &str, url: &str, extra: &[&str]) -> String {
    let out = std::process::Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--mute-audio",
        ])
        .arg("--virtual-time-budget=30000")
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page in a real browser: histogram bars, cards, a card's frames loaded, a search hit; writes
/// screenshots to `$VICLIP_VIEW_SCREENSHOTS` (default: the test's temporary directory). Skipped
/// without chromium unless `VICLIP_REQUIRE_BROWSER` is set (CI sets it).
#[test]
fn the_page_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        assert!(
            std::env::var_os("VICLIP_REQUIRE_BROWSER").is_none(),
            "chromium is not installed"
        );
        eprintln!("skipped: no chromium on the PATH (scripts/setup-debian.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = make_run(dir.path(), true);
    let srv = serve(&out);
    let base = format!("http://{}/", srv.addr);
    let q = CAPTIONS[6].replace(' ', "%20");
    let dom = browse(
        &chrome,
        &format!("{base}#view=search&q={q}"),
        &["--dump-dom"],
    );
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page did not finish: {dom}"
    );
    assert!(
        dom.matches("class=\"bar\"").count() >= 40,
        "histogram bars: {dom}"
    );
    assert!(dom.matches("class=\"card").count() >= 10, "cards: {dom}");
    assert!(
        dom.contains("data-loaded=\"1\""),
        "no strip of frames loaded: {dom}"
    );
    assert!(!dom.contains("<script>alert"), "a caption became markup");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let hits = &dom[dom.find("id=\"search-results\"").expect("results")..];
    let first = &hits[hits.find("data-id=\"").unwrap() + 9..];
    assert!(
        first.starts_with("6\""),
        "first hit: {}",
        &first[..40.min(first.len())]
    );
    let shots = std::env::var_os("VICLIP_VIEW_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    for (name, frag) in [
        ("overview", "view=overview".to_string()),
        ("clips", "view=clips&sort=viclip_sim&order=desc".into()),
        (
            "thresholds",
            "view=thresholds&frac=0.5&min_dur=0&max_dur=10&min_aes=4".into(),
        ),
        ("search", format!("view=search&q={q}")),
    ] {
        let png = shots.join(format!("{name}.png"));
        let arg = format!("--screenshot={}", png.display());
        browse(
            &chrome,
            &format!("{base}#{frag}"),
            &[&arg, "--window-size=1280,1000"],
        );
        assert!(
            std::fs::metadata(&png).unwrap().len() > 1000,
            "{name} screenshot"
        );
    }
    srv.stop();
}
