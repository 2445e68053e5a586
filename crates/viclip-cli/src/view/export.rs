//! `viclip view OUT --export DIR`: the overview as static files to share without a server —
//! `index.html` (status counts, histograms with their 5/50/95 % lines, samples per score bucket)
//! and `frames/ID.png`, the strips of the sampled clips.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::frames::{decode_strip, span_of};
use super::query::{self, Column, Histogram};
use super::rows::{video_file, Clip};
use super::state::AppState;

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn svg(h: &Histogram) -> String {
    let (w, ht) = (600.0, 160.0);
    let max = h.bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
    let (lo, hi) = (h.bins[0].lo as f64, h.bins[h.bins.len() - 1].hi as f64);
    let x = |v: f64| (v - lo) / (hi - lo).max(1e-9) * w;
    let bw = w / h.bins.len() as f64;
    let mut s = format!(r#"<svg viewBox="0 0 {w} {}" class="hist">"#, ht + 16.0);
    for (i, b) in h.bins.iter().enumerate() {
        let bh = b.count as f64 / max * ht;
        let _ = write!(
            s,
            r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}"><title>[{:.4}, {:.4}): {}</title></rect>"#,
            i as f64 * bw,
            ht - bh,
            (bw - 1.0).max(0.5),
            b.lo,
            b.hi,
            b.count
        );
    }
    for (q, v) in h
        .quantiles
        .iter()
        .filter(|(q, _)| [0.05, 0.5, 0.95].contains(q))
    {
        let _ = write!(
            s,
            r#"<line class="q" x1="{0:.1}" x2="{0:.1}" y1="0" y2="{ht}"/><text x="{0:.1}" y="{1}">p{2} {3:.3}</text>"#,
            x(*v),
            ht + 14.0,
            (q * 100.0).round(),
            v
        );
    }
    s + "</svg>"
}

fn card(c: &Clip, has_frames: bool) -> String {
    let f = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.4}"));
    let img = if has_frames {
        format!(r#"<img src="frames/{}.png" alt="frames">"#, c.id)
    } else {
        String::new()
    };
    format!(
        r#"<div class="card">{img}<div class="cap">{}</div><div class="meta">#{} · sim {} · aes {} · {} · {} {}–{}</div></div>"#,
        escape(c.caption.as_deref().unwrap_or("")),
        c.id,
        f(c.viclip_sim),
        f(c.aesthetic),
        escape(c.status.as_deref().unwrap_or("")),
        escape(c.video.as_deref().unwrap_or("")),
        escape(c.start.as_deref().unwrap_or("")),
        escape(c.end.as_deref().unwrap_or("")),
    )
}

/// Writes the overview into `dir`; returns the number of strips written.
pub fn export(s: &AppState, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir.join("frames"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let idx = s.index()?;
    let mut html = String::from(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>viclip run</title><style>"#,
    );
    html.push_str(include_str!("assets/app.css"));
    let _ = write!(
        html,
        "</style></head><body><h1>{}</h1><p>{} rows scored of {} ({} of {} shards complete)</p>",
        escape(&s.layout.out.display().to_string()),
        idx.keys.len(),
        idx.status.record.table_rows,
        idx.status.complete,
        idx.status.shards.len()
    );
    let mut written = 0;
    for col in [Column::ViclipSim, Column::Aesthetic] {
        let Some(h) = query::histogram(&idx, col, 40)? else {
            continue;
        };
        let name = if col == Column::ViclipSim {
            "viclip_sim"
        } else {
            "aesthetic"
        };
        let _ = write!(html, "<h2>{name}</h2>{}<div class=\"buckets\">", svg(&h));
        for b in query::samples(&idx, col, 6, 4, 0)? {
            let _ = write!(
                html,
                "<h3>{name} in [{:.3}, {:.3}) · {} rows</h3><div class=\"cards\">",
                b.lo, b.hi, b.count
            );
            for id in b.ids {
                let c = s.rows.clip(id)?;
                let strip = video_file(&s.layout, &c).and_then(|p| {
                    decode_strip(
                        p,
                        span_of(&c, s.layout.clips.is_some())?,
                        &s.layout.preprocess,
                        id,
                    )
                });
                let ok = match strip {
                    Ok(png) => {
                        let p = dir.join("frames").join(format!("{id}.png"));
                        std::fs::write(&p, png)
                            .with_context(|| format!("writing {}", p.display()))?;
                        written += 1;
                        true
                    }
                    Err(_) => false,
                };
                html.push_str(&card(&c, ok));
            }
            html.push_str("</div>");
        }
        html.push_str("</div>");
    }
    html.push_str("</body></html>");
    let p = dir.join("index.html");
    std::fs::write(&p, html).with_context(|| format!("writing {}", p.display()))?;
    Ok(written)
}
