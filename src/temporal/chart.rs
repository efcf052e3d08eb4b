//! An hour × day heat table as PNG (plotters), readable at a glance: title, axis labels,
//! a colour legend, and the significant bins outlined.

use std::path::Path;

use plotters::prelude::*;

use super::DAYS;

/// Font file used for labels; `HOTSPOTS_FONT` overrides (Debian: fonts-dejavu-core).
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Registers the label font once per process (plotters' `sans-serif`).
///
/// # Errors
/// The font file is missing or unusable, naming it and how to fix it.
pub fn register_font() -> Result<(), String> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let path = std::env::var("HOTSPOTS_FONT").unwrap_or_else(|_| DEFAULT_FONT.to_string());
        let bytes = std::fs::read(&path).map_err(|e| {
            format!("font {path}: {e} (install fonts-dejavu-core or set HOTSPOTS_FONT)")
        })?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("font {path}: not a usable TrueType/OpenType font"))
    })
    .clone()
}

/// Colour for a share 0–1 of the largest bin: the heatmap's ramp ([`crate::style::heat_rgb`]).
pub fn ramp(t: f64) -> RGBColor {
    let [r, g, b] = crate::style::heat_rgb(t);
    RGBColor(r, g, b)
}

/// Draws the area's hour × day heat table of a peaks report (`report::peaks_report`'s
/// JSON) to `path`, outlining the hours whose FDR q value is at most `alpha`.
pub fn report_heat_table_png(
    path: &Path,
    report: &serde_json::Value,
    alpha: f64,
) -> Result<(), String> {
    let week: Vec<f64> = report["hour_of_week"]["profile"]
        .as_array()
        .map(|v| v.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default();
    let significant: Vec<bool> = report["hour_of_week"]["tests"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|t| t["q"].as_f64().unwrap_or(1.0) <= alpha)
                .collect()
        })
        .unwrap_or_default();
    let title = format!(
        "Incidents by hour and day ({} timed incidents, aoristic)",
        report["incidents"]
    );
    heat_table_png(path, &title, &week, &significant)
}

/// Draws the 7 × 24 table of `hour_of_week` (bin 0 = Monday 00:00) to `path`, outlining
/// the bins flagged in `significant`.
pub fn heat_table_png(
    path: &Path,
    title: &str,
    hour_of_week: &[f64],
    significant: &[bool],
) -> Result<(), String> {
    register_font()?;
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", path.display());
    const SIZE: (u32, u32) = (1100, 460);
    let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (main, legend) = root.split_horizontally(960);
        let max = hour_of_week
            .iter()
            .cloned()
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        let mut chart = ChartBuilder::on(&main)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..24f64, (0i32..6i32).into_segmented())
            .map_err(|e| err(&e))?;
        // Row 0 at the bottom is Sunday, so Monday reads first from the top.
        let row = |day: usize| 6 - day as i32;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(25)
            .x_label_formatter(&|x| format!("{:02}", *x as u32))
            .y_labels(7)
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(i) if (0..7).contains(i) => {
                    DAYS[(6 - i) as usize].to_string()
                }
                _ => String::new(),
            })
            .x_desc("hour of day (Europe/London local time)")
            .y_desc("day")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| err(&e))?;
        let cells = (0..168).map(|b| {
            let (day, hour) = (b / 24, b % 24);
            Rectangle::new(
                [
                    (hour as f64, SegmentValue::Exact(row(day))),
                    (hour as f64 + 1.0, SegmentValue::Exact(row(day) + 1)),
                ],
                ramp(hour_of_week[b] / max).filled(),
            )
        });
        chart.draw_series(cells).map_err(|e| err(&e))?;
        let outlines = (0..168)
            .filter(|&b| significant.get(b).copied().unwrap_or(false))
            .map(|b| {
                let (day, hour) = (b / 24, b % 24);
                Rectangle::new(
                    [
                        (hour as f64 + 0.04, SegmentValue::Exact(row(day))),
                        (hour as f64 + 0.96, SegmentValue::Exact(row(day) + 1)),
                    ],
                    BLACK.stroke_width(2),
                )
            });
        chart.draw_series(outlines).map_err(|e| err(&e))?;
        // Legend: a title, a vertical colour bar with its scale, and what the outlines mean.
        let lg = legend.margin(40, 40, 6, 6);
        lg.draw(&Text::new("incidents", (0, 0), ("sans-serif", 14)))
            .map_err(|e| err(&e))?;
        let (top, h) = (26, 280);
        for k in 0..h {
            let t = 1.0 - k as f64 / h as f64;
            lg.draw(&Rectangle::new(
                [(0, top + k), (24, top + k + 1)],
                ramp(t).filled(),
            ))
            .map_err(|e| err(&e))?;
        }
        for (k, t) in [(0, 1.0), (h / 2, 0.5), (h - 12, 0.0)] {
            lg.draw(&Text::new(
                format!("{:.0}", t * max),
                (30, top + k),
                ("sans-serif", 13),
            ))
            .map_err(|e| err(&e))?;
        }
        lg.draw(&Text::new(
            "outlined:",
            (0, top + h + 16),
            ("sans-serif", 12),
        ))
        .map_err(|e| err(&e))?;
        lg.draw(&Text::new(
            "significant",
            (0, top + h + 32),
            ("sans-serif", 12),
        ))
        .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    write_rgb_png(path, SIZE, &rgb).map_err(|e| err(&e))
}

/// Writes 8-bit RGB pixels (row-major, `size.0 × size.1`) as a PNG, whole or not at all.
///
/// # Errors
/// The file cannot be written (the old file, if any, is left as it was).
pub fn write_rgb_png(path: &Path, size: (u32, u32), rgb: &[u8]) -> std::io::Result<()> {
    let mut f = crate::output::AtomicFile::create(path)?;
    {
        let mut enc = png::Encoder::new(&mut f, size.0, size.1);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(std::io::Error::other)?;
        w.write_image_data(rgb).map_err(std::io::Error::other)?;
        w.finish().map_err(std::io::Error::other)?;
    }
    f.commit()
}
