//! Two run identities compared key by key: what the refusal of a command with other settings lists,
//! and what a rerun checks each finished shard with.

use std::collections::BTreeMap;

use serde_json::Value;

/// Leaf keys recorded for the user but not compared (see the module docs).
fn informational(key: &str) -> bool {
    key.ends_with(".path")
        || key.ends_with(".mtime")
        || key.ends_with(".name")
        || key == "aesthetic.scorer.clip_weights"
        || key == "aesthetic.scorer.head"
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

fn show(v: Option<&Value>, sha: bool) -> String {
    match v {
        None => "(none)".into(),
        Some(Value::String(s)) if sha => format!("{}…", s.chars().take(12).collect::<String>()),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// One line per compared key where `current` (this command) and `recorded` (the run) differ:
/// `key: this command's value != the run's (run started with PATH)`. Empty when they agree.
pub(crate) fn diff(current: &Value, recorded: &Value) -> Vec<String> {
    if recorded.get("version").is_none() {
        return vec![
            "identity: the shard was scored by a viclip version that did not record a run identity"
                .into(),
        ];
    }
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", current, &mut a);
    flatten("", recorded, &mut b);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut lines = Vec::new();
    for k in keys {
        if informational(k) || a.get(k) == b.get(k) {
            continue;
        }
        let (base, what) = match k.strip_suffix(".sha256") {
            Some(base) => (base, "sha256 "),
            None => (k.as_str(), ""),
        };
        let sha = !what.is_empty() || k.ends_with(".fingerprint");
        let mut line = format!(
            "{base}: {what}{} != {}",
            show(a.get(k), sha),
            show(b.get(k), sha)
        );
        // The recorded path of the file the key belongs to (weights, input, aesthetic files).
        let top = base.rsplit_once('.').map_or(base, |p| p.0);
        let path = b
            .get(&format!("{base}.path"))
            .or_else(|| b.get(&format!("{top}.path")))
            .and_then(Value::as_str);
        if let Some(p) = path {
            line.push_str(&format!(" (run started with {p})"));
        }
        if k == "video_root" {
            line.push_str(
                "; the run's rows were resolved against the other root, and rows whose video was \
                 missing there would stay missing_video",
            );
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(sha: &str, sampling: &str, path: &str) -> Value {
        json!({
            "version": "0.1.0",
            "weights": {"sha256": sha, "size": 10, "path": path, "name": "m.safetensors"},
            "preprocess": {"sampling": sampling, "size": 224},
            "input": {"rows": 5, "path": "/in/a.jsonl", "mtime": 1},
        })
    }

    #[test]
    fn one_line_per_differing_key_paths_and_names_ignored() {
        let a = id(&"9c2e".repeat(16), "demo", "/b/m.safetensors");
        let b = id(&"1f3a".repeat(16), "middle", "/a/m.safetensors");
        assert_eq!(
            diff(&a, &b),
            [
                "preprocess.sampling: demo != middle".to_string(),
                "weights: sha256 9c2e9c2e9c2e… != 1f3a1f3a1f3a… (run started with /a/m.safetensors)"
                    .to_string(),
            ]
        );
        let moved = id(&"1f3a".repeat(16), "middle", "/elsewhere/n.safetensors");
        let mut moved = moved;
        moved["input"]["path"] = json!("/moved/b.jsonl");
        moved["input"]["mtime"] = json!(2);
        assert!(diff(&moved, &b).is_empty());
        assert_eq!(
            diff(&a, &json!({"settings": 1})).len(),
            1,
            "an old stats file"
        );
    }
}
