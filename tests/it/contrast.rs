//! WCAG AA contrast, computed from `static/app.css` itself: every colour pair the pages draw
//! text in reaches 4.5:1 and every control's outline 3:1, in the light theme and the dark one.

use std::collections::HashMap;

/// The `--b24s-*` colours of the first `:root` block after `from` in the stylesheet.
fn palette(css: &str, from: usize) -> HashMap<String, String> {
    let start = css[from..].find(":root {").expect(":root") + from;
    let end = css[start..].find('}').expect("end of :root") + start;
    css[start..end]
        .lines()
        .filter_map(|line| {
            let (name, value) = line.trim().trim_end_matches(';').split_once(':')?;
            let value = value.trim();
            (name.starts_with("--b24s-") && value.starts_with('#'))
                .then(|| (name.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

/// Relative luminance of `#rgb` or `#rrggbb`.
fn luminance(hex: &str) -> f64 {
    let hex = hex.trim_start_matches('#');
    let full: String = if hex.len() == 3 {
        hex.chars().flat_map(|c| [c, c]).collect()
    } else {
        hex.to_owned()
    };
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&full[i..i + 2], 16).expect("hex")) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
}

fn ratio(a: &str, b: &str) -> f64 {
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// Text colours and the backgrounds they are drawn on.
const TEXT: [(&str, &str); 15] = [
    ("text", "bg"),
    ("text", "page"),
    ("text", "hover"),
    ("text", "current-bg"),
    ("text", "info-bg"),
    ("text", "notice-bg"),
    ("muted", "bg"),
    ("muted", "page"),
    ("muted", "current-bg"),
    ("muted", "hover"),
    ("strong", "bg"),
    ("on-strong", "strong"),
    ("on-strong", "strong-hover"),
    ("ok", "bg"),
    ("error", "bg"),
];

/// Control outlines and state marks, and what they stand on.
const CONTROLS: [(&str, &str); 8] = [
    ("control", "bg"),
    ("control", "hover"),
    ("strong", "current-bg"),
    ("strong", "bg"),
    ("dot-online", "bg"),
    ("dot-dnd", "bg"),
    ("dot-away", "bg"),
    ("dot-break", "bg"),
];

#[test]
fn every_pair_meets_wcag_aa_in_both_themes() {
    let css = include_str!("../../static/app.css");
    let dark = css
        .find("@media (prefers-color-scheme: dark)")
        .expect("a dark theme");
    for (theme, colours) in [("light", palette(css, 0)), ("dark", palette(css, dark))] {
        let colour = |name: &str| {
            colours
                .get(&format!("--b24s-{name}"))
                .unwrap_or_else(|| panic!("{theme}: --b24s-{name} is not defined"))
                .as_str()
        };
        for (pairs, least) in [(&TEXT[..], 4.5), (&CONTROLS[..], 3.0)] {
            for (fore, back) in pairs {
                let contrast = ratio(colour(fore), colour(back));
                assert!(
                    contrast >= least,
                    "{theme}: {fore} on {back} is {contrast:.2}:1, under {least}:1"
                );
            }
        }
    }
    // Text is drawn only in the palette's colours: no colour is written outside it.
    let rules = &css[css.find("\n* {").expect("rules")..];
    assert!(
        !rules.contains("color: #") && !rules.contains("background: #"),
        "a colour outside the palette"
    );
}
