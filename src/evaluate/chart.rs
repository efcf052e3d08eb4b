//! The backtest chart (PNG, plotters): hit rate against the share of land covered, one
//! labelled line per method, with a legend and the PAI = 1 line (a map no better than
//! chance).

use std::path::Path;

use plotters::prelude::*;

use crate::temporal::chart::{register_font, write_rgb_png};

/// One line: a label and (area share, hit rate) points, both fractions (0.01 is 1%), in any
/// order (drawn by increasing share).
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend text, e.g. `KDE 300 m`.
    pub label: String,
    /// Colour slot (0–6 of the Okabe–Ito palette), so a method keeps its colour from chart
    /// to chart.
    pub colour: usize,
    /// Points in increasing area share; undefined hit rates are left out.
    pub points: Vec<(f64, f64)>,
}

/// Okabe–Ito colours: told apart by readers with the common colour-vision deficiencies.
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// Size of the chart, pixels.
pub const SIZE: (u32, u32) = (1000, 640);

/// Draws `lines` to `path` (1000 × 640 PNG): x is the share of land in percent on a log
/// scale, y the hit rate in percent; each line has its own colour and marker shape and a
/// legend entry; the dashed grey line is what a random map captures (hit rate = share).
///
/// # Errors
/// No line has a point, the font is missing, or the file cannot be written.
pub fn hit_rate_png(path: &Path, title: &str, lines: &[Line]) -> Result<(), String> {
    register_font()?;
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", path.display());
    let xs = || {
        lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0 * 100.0))
    };
    let (Some(x_lo), Some(x_hi)) = (xs().reduce(f64::min), xs().reduce(f64::max)) else {
        return Err(format!(
            "drawing {}: no method has a hit rate to plot",
            path.display()
        ));
    };
    let (x_lo, x_hi) = (x_lo / 1.5, (x_hi * 1.5).max(x_lo * 3.0));
    let y_hi = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1 * 100.0))
        .fold(x_hi, f64::max)
        .min(100.0)
        * 1.08;
    // Ticks at the shares asked for, in percent.
    let mut ticks: Vec<f64> = xs().collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (x_lo..x_hi).log_scale().with_key_points(ticks.clone()),
                0f64..y_hi,
            )
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("share of land covered by the hotspots (%, log scale)")
            .y_desc("test-period incidents captured (hit rate, %)")
            .x_label_formatter(&|x| format!("{x}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .x_labels(8)
            .y_labels(11)
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(|e| err(&e))?;
        // Chance: a map that captures its share of land.
        let chance: Vec<(f64, f64)> = (0..=40)
            .map(|k| x_lo * (x_hi / x_lo).powf(k as f64 / 40.0))
            .map(|x| (x, x))
            .collect();
        chart
            .draw_series(DashedLineSeries::new(
                chance,
                6,
                4,
                RGBColor(150, 150, 150).stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label("a random map (PAI = 1)")
            .legend(|(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 24, y)],
                    RGBColor(150, 150, 150).stroke_width(2),
                )
            });
        for (i, line) in lines.iter().enumerate() {
            let colour = COLOURS[line.colour % COLOURS.len()];
            let marker = i % 4;
            let mut pts: Vec<(f64, f64)> = line
                .points
                .iter()
                .map(|&(x, y)| (x * 100.0, y * 100.0))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(3)))
                .map_err(|e| err(&e))?
                .label(line.label.clone())
                .legend(move |(x, y)| {
                    // One element type for every marker: the unused shapes are transparent.
                    let show = |k: usize| {
                        if k == marker {
                            colour.mix(1.0)
                        } else {
                            colour.mix(0.0)
                        }
                    };
                    EmptyElement::at((0, 0))
                        + PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
                        + Circle::new((x + 12, y), 5, show(0).filled())
                        + TriangleMarker::new((x + 12, y), 6, show(1).filled())
                        + Cross::new((x + 12, y), 5, show(2).stroke_width(2))
                        + Rectangle::new([(x + 7, y - 5), (x + 17, y + 5)], show(3).filled())
                });
            // Marker shapes as well as colours, so the lines are told apart in grey too.
            match marker {
                0 => chart.draw_series(pts.iter().map(|&p| Circle::new(p, 5, colour.filled()))),
                1 => chart.draw_series(
                    pts.iter()
                        .map(|&p| TriangleMarker::new(p, 6, colour.filled())),
                ),
                2 => chart.draw_series(
                    pts.iter()
                        .map(|&p| Cross::new(p, 5, colour.stroke_width(2))),
                ),
                _ => chart.draw_series(pts.iter().map(|&p| {
                    EmptyElement::at(p) + Rectangle::new([(-5, -5), (5, 5)], colour.filled())
                })),
            }
            .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    write_rgb_png(path, SIZE, &rgb).map_err(|e| err(&e))
}
