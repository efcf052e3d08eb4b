//! Colours every output draws with: the heatmap ramp (raster tiles, charts, the map page's
//! legend) and the map page's symbols. One place, so a tile and its legend never disagree,
//! and one test that each is readable by people with colour-vision deficiencies.
//!
//! The heatmap ramp is ColorBrewer's sequential YlOrRd (Cynthia Brewer, colorbrewer2.org,
//! marked colour-blind safe there), taken from the `colorous` crate: light for low density,
//! dark for high, so its order reads from lightness alone. The layer symbols are from the
//! Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design") and the emerging-hotspot
//! bins from ColorBrewer's diverging RdBu.

/// Colour of the heatmap at `t` in 0..=1 (clamped; NaN is 0): YlOrRd, `[r, g, b]`.
pub fn heat_rgb(t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let c = colorous::YELLOW_ORANGE_RED.eval_continuous(t);
    [c.r, c.g, c.b]
}

/// The heatmap ramp at `n` (≥ 2) evenly spaced points from 0 to 1, as `#rrggbb`: the stops of
/// a CSS gradient that matches the tiles.
pub fn heat_stops(n: usize) -> Vec<String> {
    let n = n.max(2);
    (0..n)
        .map(|i| hex(heat_rgb(i as f64 / (n - 1) as f64)))
        .collect()
}

/// `#rrggbb`.
pub fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Map symbol colours by layer id (`#rrggbb`): Okabe–Ito vermillion for density hotspots,
/// blue for Grip places, reddish purple for diversion areas (also dashed), and the
/// districts' outline and fill.
pub const LAYER_COLOURS: [(&str, &str); 5] = [
    ("hotspots", "#d55e00"),
    ("grip", "#0072b2"),
    ("diversion", "#cc79a7"),
    ("districts", "#6b6b6b"),
    ("land", "#f3efe6"),
];

/// Colour of a Gi* confidence bin (−3..=3: 99%, 95%, 90% cold … hot; 0 is not drawn),
/// ColorBrewer RdBu with 7 classes, hot red.
pub const BIN_COLOURS: [(i8, &str); 7] = [
    (-3, "#2166ac"),
    (-2, "#67a9cf"),
    (-1, "#d1e5f0"),
    (0, "#f7f7f7"),
    (1, "#fddbc7"),
    (2, "#ef8a62"),
    (3, "#b2182b"),
];

/// Colour of each emerging hot spot category (the `emerging` layer's `category`): hot
/// patterns in reds, darkest for the growing ones; cold in blues; `no_pattern` not drawn.
pub const CATEGORY_COLOURS: [(&str, &str); 16] = [
    ("new_hot", "#67001f"),
    ("consecutive_hot", "#b2182b"),
    ("intensifying_hot", "#b2182b"),
    ("persistent_hot", "#d6604d"),
    ("diminishing_hot", "#f4a582"),
    ("sporadic_hot", "#f4a582"),
    ("oscillating_hot", "#f4a582"),
    ("historical_hot", "#fddbc7"),
    ("new_cold", "#053061"),
    ("consecutive_cold", "#2166ac"),
    ("intensifying_cold", "#2166ac"),
    ("persistent_cold", "#4393c3"),
    ("diminishing_cold", "#92c5de"),
    ("sporadic_cold", "#92c5de"),
    ("oscillating_cold", "#92c5de"),
    ("historical_cold", "#d1e5f0"),
];

#[cfg(test)]
mod tests {
    use super::*;

    // Colour-vision deficiency simulation: Machado, Oliveira & Fernandes (2009), "A
    // physiologically-based model for simulation of color vision deficiency", IEEE TVCG
    // 15(6), matrices for severity 1.0, applied to linear RGB.
    const PROTAN: [[f64; 3]; 3] = [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ];
    const DEUTAN: [[f64; 3]; 3] = [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ];
    const TRITAN: [[f64; 3]; 3] = [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ];
    const IDENTITY: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    const VISIONS: [(&str, [[f64; 3]; 3]); 4] = [
        ("normal", IDENTITY),
        ("protanopia", PROTAN),
        ("deuteranopia", DEUTAN),
        ("tritanopia", TRITAN),
    ];

    fn parse(hex: &str) -> [u8; 3] {
        let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
        [(v >> 16) as u8, (v >> 8) as u8, v as u8]
    }
    fn linear(c: u8) -> f64 {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    }
    /// CIELAB (D65) of `c` as seen with `m`.
    fn lab(c: [u8; 3], m: &[[f64; 3]; 3]) -> [f64; 3] {
        let l = c.map(linear);
        let s: Vec<f64> = m
            .iter()
            .map(|r| (r[0] * l[0] + r[1] * l[1] + r[2] * l[2]).clamp(0.0, 1.0))
            .collect();
        // sRGB → XYZ (IEC 61966-2-1), white D65.
        let x = 0.4124 * s[0] + 0.3576 * s[1] + 0.1805 * s[2];
        let y = 0.2126 * s[0] + 0.7152 * s[1] + 0.0722 * s[2];
        let z = 0.0193 * s[0] + 0.1192 * s[1] + 0.9505 * s[2];
        let f = |t: f64| {
            if t > (6.0f64 / 29.0).powi(3) {
                t.cbrt()
            } else {
                t / (3.0 * (6.0f64 / 29.0).powi(2)) + 4.0 / 29.0
            }
        };
        let (fx, fy, fz) = (f(x / 0.95047), f(y), f(z / 1.08883));
        [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
    }
    fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }

    /// Lab of a known colour, against published values (sRGB white and red).
    #[test]
    fn lab_matches_published_values() {
        let w = lab([255, 255, 255], &IDENTITY);
        assert!((w[0] - 100.0).abs() < 0.05 && w[1].abs() < 0.05 && w[2].abs() < 0.05);
        let r = lab([255, 0, 0], &IDENTITY);
        for (got, want) in r.iter().zip([53.24, 80.09, 67.20]) {
            assert!((got - want).abs() < 0.1, "{r:?}");
        }
    }

    /// The heatmap ramp reads in order from lightness alone, for every kind of vision: L*
    /// falls at every step of 16, and the ends are far apart.
    #[test]
    fn the_heat_ramp_is_ordered_by_lightness_for_colour_blind_viewers() {
        for (name, m) in VISIONS {
            let ls: Vec<f64> = (0..=16)
                .map(|i| lab(heat_rgb(f64::from(i) / 16.0), &m)[0])
                .collect();
            assert!(
                ls.windows(2).all(|w| w[1] < w[0]),
                "{name}: L* not falling along the ramp: {ls:?}"
            );
            assert!(ls[0] - ls[16] > 60.0, "{name}: {ls:?}");
            // Eighths of the ramp are told apart (CIE76 ΔE ≥ 5, about twice a
            // just-noticeable difference).
            for i in 0..8 {
                let (a, b) = (f64::from(i) / 8.0, f64::from(i + 1) / 8.0);
                let d = delta_e(lab(heat_rgb(a), &m), lab(heat_rgb(b), &m));
                assert!(d >= 5.0, "{name}: {a} and {b} only ΔE {d:.1} apart");
            }
        }
        assert_eq!(heat_rgb(0.0), [255, 255, 204]);
        assert_eq!(heat_rgb(f64::NAN), heat_rgb(0.0));
        assert_eq!(heat_rgb(7.0), heat_rgb(1.0));
        assert_eq!(heat_stops(3)[0], "#ffffcc");
    }

    /// Hotspot, Grip and diversion symbols differ from each other and from the land under
    /// them for every kind of vision (CIE76 ΔE ≥ 20; ≈ 2.3 is a just-noticeable difference).
    #[test]
    fn layer_symbols_stay_apart_for_colour_blind_viewers() {
        let c = |id: &str| parse(LAYER_COLOURS.iter().find(|(k, _)| *k == id).unwrap().1);
        let ids = ["hotspots", "grip", "diversion", "land"];
        for (name, m) in VISIONS {
            for (i, a) in ids.iter().enumerate() {
                for b in &ids[i + 1..] {
                    let d = delta_e(lab(c(a), &m), lab(c(b), &m));
                    assert!(d >= 20.0, "{name}: {a} and {b} are only ΔE {d:.1} apart");
                }
            }
        }
    }

    /// The bins' colours: hot and cold sides apart for every vision, and each side ordered
    /// by lightness (stronger confidence darker).
    #[test]
    fn bin_colours_are_ordered_and_hot_is_not_cold() {
        for (name, m) in VISIONS {
            let l = |b: i8| lab(parse(BIN_COLOURS.iter().find(|x| x.0 == b).unwrap().1), &m);
            for k in 1..3 {
                assert!(l(k + 1)[0] < l(k)[0] - 5.0, "{name}: hot {k}");
                assert!(l(-k - 1)[0] < l(-k)[0] - 5.0, "{name}: cold {k}");
            }
            for k in 1..=3 {
                let d = delta_e(l(k), l(-k));
                assert!(d >= 10.0, "{name}: bin {k} and -{k} only ΔE {d:.1} apart");
            }
        }
        let slugs: Vec<&str> = CATEGORY_COLOURS.iter().map(|x| x.0).collect();
        for s in &slugs {
            assert!(s.ends_with("_hot") || s.ends_with("_cold"), "{s}");
        }
    }
}
