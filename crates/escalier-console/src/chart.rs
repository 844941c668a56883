//! Small charts drawn as SVG on the server: bars (one or more series per
//! category) and a line over time. Each is an image with a `<title>` and
//! a `<desc>`, and the page puts the same numbers in a table beside it.

use maud::{Markup, html};

const W: f64 = 640.0;
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 48.0;
const TOP: f64 = 12.0;
const COLOURS: [&str; 3] = ["#2b6cb0", "#c05621", "#2f855a"];

/// A "nice" upper bound for an axis (1, 2 or 5 times a power of ten).
fn nice_max(max: f64) -> f64 {
    if max.is_nan() || max <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * p)
}

fn axis(max: f64, fmt: &dyn Fn(f64) -> String) -> Markup {
    let plot_h = H - TOP - BOTTOM;
    html! {
        @for i in 0..=4 {
            @let v = max * f64::from(i) / 4.0;
            @let y = TOP + plot_h * (1.0 - f64::from(i) / 4.0);
            line x1=(LEFT) x2=(W - 8.0) y1=(y) y2=(y) stroke="#ccc" stroke-width="1" {}
            text x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" font-size="11" fill="#333" { (fmt(v)) }
        }
    }
}

fn legend(series: &[(&str, Vec<f64>)]) -> Markup {
    html! {
        @if series.len() > 1 {
            @for (i, (name, _)) in series.iter().enumerate() {
                @let x = LEFT + 130.0 * i as f64;
                rect x=(x) y=(H - 14.0) width="10" height="10" fill=(COLOURS[i % COLOURS.len()]) {}
                text x=(x + 14.0) y=(H - 5.0) font-size="11" fill="#333" { (name) }
            }
        }
    }
}

fn short(label: &str) -> String {
    if label.chars().count() > 14 {
        format!("{}…", label.chars().take(13).collect::<String>())
    } else {
        label.to_owned()
    }
}

/// Bars: one group per label, one bar per series.
pub fn bars(
    id: &str,
    title: &str,
    desc: &str,
    labels: &[String],
    series: &[(&str, Vec<f64>)],
    fmt: &dyn Fn(f64) -> String,
) -> Markup {
    let max = nice_max(
        series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0, f64::max),
    );
    let plot_w = W - LEFT - 8.0;
    let plot_h = H - TOP - BOTTOM;
    let group = plot_w / labels.len().max(1) as f64;
    let bar = (group * 0.8 / series.len().max(1) as f64).min(48.0);
    html! {
        svg.chart id=(id) role="img" viewBox=(format!("0 0 {W} {H}")) width="100%" preserveAspectRatio="xMinYMin meet"
            aria-labelledby=(format!("{id}-t {id}-d")) xmlns="http://www.w3.org/2000/svg" {
            title id=(format!("{id}-t")) { (title) }
            desc id=(format!("{id}-d")) { (desc) }
            (axis(max, fmt))
            @for (i, label) in labels.iter().enumerate() {
                @let x0 = LEFT + group * i as f64 + (group - bar * series.len() as f64) / 2.0;
                @for (s, (name, values)) in series.iter().enumerate() {
                    @let v = values.get(i).copied().unwrap_or(0.0).max(0.0);
                    @let h = plot_h * v / max;
                    rect x=(x0 + bar * s as f64) y=(TOP + plot_h - h) width=(bar) height=(h)
                        fill=(COLOURS[s % COLOURS.len()]) {
                        title { (label) ", " (name) ": " (fmt(v)) }
                    }
                }
                text x=(LEFT + group * (i as f64 + 0.5)) y=(H - BOTTOM + 14.0) text-anchor="middle" font-size="11" fill="#333" { (short(label)) }
            }
            (legend(series))
        }
    }
}

/// A line over ordered labels (days).
pub fn line(
    id: &str,
    title: &str,
    desc: &str,
    labels: &[String],
    values: &[f64],
    fmt: &dyn Fn(f64) -> String,
) -> Markup {
    let max = nice_max(values.iter().copied().fold(0.0, f64::max));
    let plot_w = W - LEFT - 16.0;
    let plot_h = H - TOP - BOTTOM;
    let n = values.len();
    let x = |i: usize| {
        if n <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| TOP + plot_h * (1.0 - v.max(0.0) / max);
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
        .collect();
    let every = n.div_ceil(8).max(1);
    html! {
        svg.chart id=(id) role="img" viewBox=(format!("0 0 {W} {H}")) width="100%" preserveAspectRatio="xMinYMin meet"
            aria-labelledby=(format!("{id}-t {id}-d")) xmlns="http://www.w3.org/2000/svg" {
            title id=(format!("{id}-t")) { (title) }
            desc id=(format!("{id}-d")) { (desc) }
            (axis(max, fmt))
            polyline points=(points.join(" ")) fill="none" stroke=(COLOURS[0]) stroke-width="2" {}
            @for (i, v) in values.iter().enumerate() {
                circle cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(*v))) r="3" fill=(COLOURS[0]) {
                    title { (labels.get(i).map_or("", String::as_str)) ": " (fmt(*v)) }
                }
                @if i % every == 0 {
                    text x=(format!("{:.1}", x(i))) y=(H - BOTTOM + 14.0) text-anchor="middle" font-size="11" fill="#333" {
                        (labels.get(i).map_or("", String::as_str))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_to_nice_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(0.37), 0.5);
        assert_eq!(nice_max(1.0), 1.0);
        assert_eq!(nice_max(130.0), 200.0);
        assert_eq!(nice_max(7200.0), 10000.0);
    }

    #[test]
    fn charts_are_labelled_images_with_escaped_text() {
        let svg = bars(
            "c1",
            "Rate <by> team",
            "desc & more",
            &["a<b".to_owned(), "c".to_owned()],
            &[("rate", vec![0.5, 1.0])],
            &|v| format!("{v:.1}"),
        )
        .into_string();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains("<title id=\"c1-t\">Rate &lt;by&gt; team</title>"));
        assert!(svg.contains("<desc id=\"c1-d\">desc &amp; more</desc>"));
        assert_eq!(svg.matches("<rect").count(), 2);
        let l = line(
            "c2",
            "t",
            "d",
            &["2026-03-01".into(), "2026-03-02".into()],
            &[0.2, 0.4],
            &|v| format!("{v}"),
        )
        .into_string();
        assert!(l.contains("<polyline"));
        assert_eq!(l.matches("<circle").count(), 2);
    }
}
