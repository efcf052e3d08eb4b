//! WGS84 ↔ EPSG:27700 against the Ordnance Survey's published OSTN15 test points (the
//! OSTN15/OSGM15 developer pack's test input and output files, in tests/data/ostn15/ with
//! their BSD licence). The published values are rounded to the millimetre (eastings and
//! northings) and to 1e-8 degree (latitudes and longitudes, about 1 mm).

use hotspots::crs::{LatticeTransformer, Transformer};

fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|f| f.trim().trim_start_matches('\u{feff}').to_string())
                .collect()
        })
        .collect()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}

/// ETRS89 latitude/longitude → OSGB36 National Grid: every one of the 40 points within
/// the published millimetre.
#[test]
fn ostn15_test_points() {
    let input = rows(include_str!(
        "data/ostn15/OSTN15_OSGM15_TestInput_ETRStoOSGB.csv"
    ));
    let output = rows(include_str!(
        "data/ostn15/OSTN15_OSGM15_TestOutput_ETRStoOSGB.csv"
    ));
    assert_eq!(input.len(), 40);
    let expected: std::collections::HashMap<&str, (f64, f64)> = output
        .iter()
        .map(|r| (r[0].as_str(), (num(&r[1]), num(&r[2]))))
        .collect();
    let t = Transformer::wgs84_to_bng().unwrap();
    let mut worst = 0.0f64;
    for r in &input {
        let (lat, lon) = (num(&r[1]), num(&r[2]));
        let (e, n) = t.convert(lon, lat).unwrap();
        let (ee, en) = expected[r[0].as_str()];
        let d = (e - ee).abs().max((n - en).abs());
        worst = worst.max(d);
        assert!(
            d <= 0.001 + 1e-9,
            "{}: ({e:.4}, {n:.4}) against the published ({ee:.3}, {en:.3})",
            r[0]
        );
    }
    eprintln!("OSTN15 forward: worst {worst:.4} m over 40 points");
}

/// OSGB36 National Grid → ETRS89 latitude/longitude: every point within 1e-8 degree of the
/// published result, about a millimetre on the ground.
#[test]
fn ostn15_inverse_test_points() {
    let input = rows(include_str!(
        "data/ostn15/OSTN15_OSGM15_TestInput_OSGBtoETRS.csv"
    ));
    let output = rows(include_str!(
        "data/ostn15/OSTN15_OSGM15_TestOutput_OSGBtoETRS.csv"
    ));
    let expected: std::collections::HashMap<&str, (f64, f64)> = output
        .iter()
        .filter(|r| r[1] == "RESULT")
        .map(|r| (r[0].as_str(), (num(&r[2]), num(&r[3]))))
        .collect();
    assert!(expected.len() >= 39, "{} results", expected.len());
    let t = Transformer::bng_to_wgs84().unwrap();
    let mut checked = 0;
    for r in &input {
        let Some(&(elat, elon)) = expected.get(r[0].as_str()) else {
            continue;
        };
        let (lon, lat) = t.convert(num(&r[1]), num(&r[2])).unwrap();
        // 1.5e-8 degree: the published 1e-8 rounding plus the iteration's tolerance.
        assert!(
            (lat - elat).abs() <= 1.5e-8 && (lon - elon).abs() <= 1.5e-8,
            "{}: ({lat:.9}, {lon:.9}) against the published ({elat}, {elon})",
            r[0]
        );
        checked += 1;
    }
    assert_eq!(checked, expected.len());
}

/// The ingest lattice answers the OS points inside it (south-east England) within its
/// documented bound of exact OSTN15.
#[test]
fn ostn15_lattice_near_the_test_points() {
    let input = rows(include_str!(
        "data/ostn15/OSTN15_OSGM15_TestInput_ETRStoOSGB.csv"
    ));
    let output = rows(include_str!(
        "data/ostn15/OSTN15_OSGM15_TestOutput_ETRStoOSGB.csv"
    ));
    let lattice = LatticeTransformer::wgs84_to_bng([-6.5, 49.9, 1.7, 56.0]).unwrap();
    let mut inside = 0;
    for (r, o) in input.iter().zip(&output) {
        assert_eq!(r[0], o[0]);
        let (lat, lon) = (num(&r[1]), num(&r[2]));
        if !(-6.5..1.7).contains(&lon) || !(49.9..56.0).contains(&lat) {
            continue;
        }
        let (e, n) = lattice.convert(lon, lat).unwrap();
        let d = (e - num(&o[1])).hypot(n - num(&o[2]));
        assert!(
            d <= hotspots::crs::LATTICE_MAX_ERROR_M + 0.001,
            "{}: {d} m",
            r[0]
        );
        inside += 1;
    }
    assert!(inside >= 10, "{inside} points inside the lattice");
}
