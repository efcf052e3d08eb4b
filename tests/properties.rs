//! Property tests of the invariants everything else rests on, each against an independent
//! computation: ingest accounting, aoristic sums, the KDE integral and district assignment.

mod common;
use common::*;
use proptest::prelude::*;

/// The Europe/London hour-of-week bin (0 = Monday 00:00) of an epoch minute, by jiff's
/// time-zone database (independent of the library's offset walk).
fn london_bin(m: i64) -> usize {
    let z = jiff::Timestamp::from_second(m * 60)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap());
    let weekday = z.weekday().to_monday_zero_offset() as usize;
    weekday * 24 + z.hour() as usize
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// An occurrence window's weight is spread over the local hours it covers, minute by
    /// minute, across DST changes: checked against a minute-by-minute count by jiff.
    #[test]
    fn aoristic_weight_is_spread_minute_by_minute(
        // 2024-01-01 to 2026-12-31, windows up to three days (DST nights included).
        from in 28_401_120i32..29_978_000,
        span in 2i32..4_320,
        weight in 0.1f64..10.0,
    ) {
        let mut bins = [0.0; hotspots::temporal::HOURS_PER_WEEK];
        let fix = hotspots::temporal::apportion(from, Some(from + span), weight, &mut bins);
        prop_assert_eq!(fix, hotspots::temporal::Fix::None);
        let mut want = [0.0; hotspots::temporal::HOURS_PER_WEEK];
        for m in from..from + span {
            want[london_bin(i64::from(m))] += weight / f64::from(span);
        }
        let total: f64 = bins.iter().sum();
        prop_assert!((total - weight).abs() < 1e-9 * weight.max(1.0));
        for (b, (g, w)) in bins.iter().zip(&want).enumerate() {
            prop_assert!((g - w).abs() < 1e-9, "bin {}: {} vs {}", b, g, w);
        }
    }

    /// Away from the grid's edges, the exact KDE integrates to the total weight.
    #[test]
    fn kde_integrates_to_the_weight(
        pts in proptest::collection::vec((602_000.0f64..604_000.0, 152_000.0f64..154_000.0, 0.5f64..3.0), 1..60),
        h in 100.0f64..400.0,
    ) {
        use hotspots::density::{kde::kde_exact, Grid, Kernel, Scaling};
        let g = Grid::covering(600_000.0, 150_000.0, 606_000.0, 156_000.0, 25.0);
        let (xs, ys, ws): (Vec<f64>, Vec<f64>, Vec<f64>) = pts.iter().fold(
            (vec![], vec![], vec![]),
            |(mut a, mut b, mut c), &(x, y, w)| { a.push(x); b.push(y); c.push(w); (a, b, c) },
        );
        let d = kde_exact(&g, &xs, &ys, &ws, Kernel::Quartic, h, Scaling::Density);
        let mass: f64 = d.iter().sum::<f64>() * g.cell_area_m2() / 1e6;
        let total: f64 = ws.iter().sum();
        // The midpoint rule on 25 m cells: within 1% for h ≥ 100 m.
        prop_assert!((mass - total).abs() / total < 1e-2, "{} vs {}", mass, total);
    }

    /// The district index agrees with geo's point-in-polygon on the pack's own polygons.
    #[test]
    fn districts_agree_with_geo(x in 535_000.0f64..655_000.0, y in 125_000.0f64..185_000.0) {
        use geo::Contains;
        use std::sync::OnceLock;
        static PACK: OnceLock<(hotspots::boundaries::BoundaryPack, hotspots::boundaries::DistrictIndex)> = OnceLock::new();
        let (pack, index) = PACK.get_or_init(|| {
            let p = hotspots::boundaries::BoundaryPack::kent_medway().unwrap();
            let i = hotspots::boundaries::DistrictIndex::new(&p);
            (p, i)
        });
        let p = geo::Point::new(x, y);
        let inside: Vec<usize> = pack.districts.iter().enumerate()
            .filter(|(_, d)| d.geometry.contains(&p))
            .map(|(i, _)| i)
            .collect();
        match index.locate(x, y) {
            Some(d) => prop_assert!(inside.is_empty() || inside.contains(&(d as usize)), "{:?} vs {:?}", d, inside),
            // On a boundary geo may say neither; off it, nothing is missed.
            None => prop_assert!(inside.is_empty(), "{:?}", inside),
        }
    }
}

/// One random row: valid, or broken in one of several ways.
fn row(i: usize, kind: u8) -> String {
    let ok = format!("r{i},Robbery,2025-06-14T23:10:00+01:00,,0.52,51.27");
    match kind {
        0 => ok,
        1 => format!("r{i},Robbery,2025-06-14T23:10:00+01:00,,,51.27"),
        2 => format!("r{i},Robbery,not a date,,0.52,51.27"),
        3 => format!("r{i},Robbery,2025-06-14T23:10:00+01:00,,0.52"),
        4 => format!("r{i},,2025-06-14T23:10:00+01:00,,0.52,51.27"),
        5 => format!("\"r{i}\",\"Robbery, with a comma\",2025-06-14T23:10:00+01:00,,-1.5,52.4"),
        _ => "r0,Robbery,2025-06-14T23:10:00+01:00,,0.52,51.27".to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Every row is accounted for: accepted + rejected = rows read, per file and overall,
    /// and each rejected row is in the rejects file with its original text.
    #[test]
    fn every_row_is_accepted_or_rejected_with_its_text(kinds in proptest::collection::vec(0u8..7, 1..80)) {
        let dir = tmp();
        let lines: Vec<String> = kinds.iter().enumerate().map(|(i, &k)| row(i + 1, k)).collect();
        let csv = write(
            dir.path(),
            "rows.csv",
            &format!("id,offence,occurred_from,occurred_to,longitude,latitude\n{}\n", lines.join("\n")),
        );
        let rejects = dir.path().join("rejects.csv");
        let out = run_ok(&["stats", "--json", "--incidents", csv.to_str().unwrap(), "--rejects", rejects.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (read, acc, rej) = (v["rows_read"].as_u64().unwrap(), v["accepted"].as_u64().unwrap(), v["rejected"].as_u64().unwrap());
        prop_assert_eq!(read, lines.len() as u64);
        prop_assert_eq!(acc + rej, read);
        let by_reason: u64 = v["rejected_by_reason"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
        prop_assert_eq!(by_reason, rej);
        if rej == 0 {
            prop_assert!(!rejects.exists());
        } else {
            let mut r = csv::Reader::from_path(&rejects).unwrap();
            let recs: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
            prop_assert_eq!(recs.len() as u64, rej);
            for rec in &recs {
                let line: usize = rec[1].parse().unwrap();
                prop_assert_eq!(&rec[6], lines[line - 2].as_str());
            }
        }
    }
}
