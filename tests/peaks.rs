//! `hotspots peaks` end to end: planted windows recovered exactly, no windows in uniform
//! times, month-only exclusion, fix-up counts, patrol plans and the PNG heat table.

mod common;

use common::*;
use hotspots::temporal::{apportion, detect_day_and_week, HOURS_PER_WEEK};
use rand::{Rng, SeedableRng};

fn windows(doc: &serde_json::Value, key: &str) -> Vec<(String, String, Vec<String>)> {
    let mut v: Vec<(String, String, Vec<String>)> = doc[key]["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["start"].as_str().unwrap().to_string(),
                w["end"].as_str().unwrap().to_string(),
                w["days"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    v.sort();
    v
}

fn days(d: &[&str]) -> Vec<String> {
    d.iter().map(|s| s.to_string()).collect()
}

/// The embedded fixture plants weekdays 15–16, every day 18–20 and Fri/Sat 23–01 over all of
/// 2025 (both DST changes). Exactly those windows come back.
#[test]
fn planted_windows_are_recovered_exactly() {
    let dir = tmp();
    let out = dir.path().join("p.json");
    let png = dir.path().join("p.png");
    run_ok(&[
        "peaks",
        "--out",
        out.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    let doc = read_json(&out);
    let all = days(&["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]);
    assert_eq!(
        windows(&doc, "hour_of_day"),
        vec![
            ("15:00".into(), "16:00".into(), all.clone()),
            ("18:00".into(), "20:00".into(), all.clone()),
            ("23:00".into(), "01:00".into(), all.clone()),
        ]
    );
    assert_eq!(
        windows(&doc, "hour_of_week"),
        vec![
            (
                "15:00".into(),
                "16:00".into(),
                days(&["Mon", "Tue", "Wed", "Thu", "Fri"])
            ),
            ("18:00".into(), "20:00".into(), all),
            ("23:00".into(), "01:00".into(), days(&["Fri", "Sat"])),
        ]
    );
    for w in doc["hour_of_day"]["windows"].as_array().unwrap() {
        // Fri/Sat 23–01 is 2 nights of 7, so its hour-of-day ratio is modest.
        assert!(w["rate_ratio"].as_f64().unwrap() > 1.2);
        assert!(w["q"].as_f64().unwrap() <= 0.05);
        assert!(w["p"].as_f64().unwrap() <= w["q"].as_f64().unwrap());
        assert!(w["share"].as_f64().unwrap() > 0.05);
    }
    // Profiles conserve every incident's weight of 1.
    let total: f64 = doc["hour_of_week"]["profile"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((total - doc["incidents"].as_f64().unwrap()).abs() < 1e-6);
    // The PNG: right size, and the significant Friday 23:00 cell drawn dark.
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1100, 460));
    let px = |x: u32, y: u32| {
        let i = ((y * info.width + x) * 3) as usize;
        (buf[i], buf[i + 1], buf[i + 2])
    };
    let dark = (0..info.height)
        .flat_map(|y| (0..info.width).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let (r, g, b) = px(x, y);
            // The ramp's dark reds (YlOrRd from #e31a1c to #800026).
            r > 110 && g < 60 && b < 70
        })
        .count();
    assert!(dark > 8_000, "dark red peak cells drawn: {dark} px");
}

/// Uniformly random times: no window at α = 0.05 in at least 95 of 100 seeds.
#[test]
fn uniform_times_give_no_windows_in_95_percent_of_seeds() {
    let start = hotspots::incidents::time::parse_datetime("2025-01-01T00:00").unwrap();
    let mut with_windows = 0;
    for seed in 0..100u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut week = [0.0; HOURS_PER_WEEK];
        for _ in 0..3000 {
            let m = start + rng.random_range(0..365 * 1440);
            apportion(m, None, 1.0, &mut week);
        }
        let mut day = vec![0.0; 24];
        for (i, v) in week.iter().enumerate() {
            day[i % 24] += v;
        }
        let (a, b) = detect_day_and_week(&day, &[1.0; 24], &week, &[1.0; 168], 0.05, "uniform");
        if !a.windows.is_empty() || !b.windows.is_empty() {
            with_windows += 1;
        }
    }
    eprintln!("uniform times: {with_windows} of 100 seeds found a window");
    assert!(
        with_windows <= 5,
        "{with_windows} of 100 seeds found a window"
    );
}

/// Month-only rows are excluded and counted; fix-ups are counted.
#[test]
fn month_only_rows_and_fix_ups_are_reported() {
    let dir = tmp();
    let police = write(
        dir.path(),
        "police.csv",
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n\
         a1,2022-01,Kent Police,Kent Police,0.8722,51.1486,On or near X,E01,Ashford 1,Robbery,,\n\
         a2,2022-01,Kent Police,Kent Police,0.8730,51.1490,On or near Y,E01,Ashford 1,Violence and sexual offences,,\n",
    );
    let timed = write(
        dir.path(),
        "timed.csv",
        "id,offence,occurred_from,occurred_to,longitude,latitude\n\
         t1,Robbery,2025-03-03T10:00,,0.8722,51.1486\n\
         t2,Robbery,2025-03-03T10:00,2025-03-03T10:00,0.8722,51.1486\n\
         t3,Robbery,2025-03-03T10:00,2025-03-12T10:00,0.8722,51.1486\n\
         t4,Robbery,2025-03-03T08:00,2025-03-03T16:00,0.8722,51.1486\n",
    );
    let out = dir.path().join("m.json");
    run_ok(&[
        "peaks",
        "--incidents",
        police.to_str().unwrap(),
        timed.to_str().unwrap(),
        "--rejects",
        dir.path().join("r.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let doc = read_json(&out);
    assert_eq!(doc["excluded_month_only"], 2);
    assert_eq!(doc["incidents"], 4);
    assert_eq!(doc["fixups"]["no_end"], 1);
    assert_eq!(doc["fixups"]["zero_span"], 1);
    assert_eq!(doc["fixups"]["week_or_more"], 1);
    let week = doc["hour_of_week"]["profile"].as_array().unwrap();
    // Monday 10:00: no-end 1 + zero-span 1 + 1/168 + 0.125 from 08–16.
    let mon10 = week[10].as_f64().unwrap();
    assert!(
        (mon10 - (2.0 + 1.0 / 168.0 + 0.125)).abs() < 1e-12,
        "{mon10}"
    );
    if let Some(p) = shared(
        "incidents/2022-01-kent-street.excerpt.csv",
        "police.uk month-only",
    ) {
        let out2 = dir.path().join("s.json");
        run_ok(&[
            "peaks",
            "--incidents",
            p.to_str().unwrap(),
            "--rejects",
            dir.path().join("r2.csv").to_str().unwrap(),
            "--out",
            out2.to_str().unwrap(),
        ]);
        let d = read_json(&out2);
        assert_eq!(d["incidents"], 0);
        assert!(d["excluded_month_only"].as_u64().unwrap() >= 70);
        assert!(d["hour_of_day"]["windows"].as_array().unwrap().is_empty());
    }
}

/// Districts are tested against the area; Grip places get patrol plans with Koper visits;
/// diversion windows come split weekday/weekend.
#[test]
fn district_and_hotspot_breakdowns_with_patrol_plans() {
    let dir = tmp();
    let d = dir.path().join("d.json");
    run_ok(&["peaks", "--by", "district", "--out", d.to_str().unwrap()]);
    let doc = read_json(&d);
    let groups = doc["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 13);
    assert_eq!(groups[0]["hour_of_day"]["baseline"], "area profile");
    let n: u64 = groups
        .iter()
        .map(|g| g["incidents"].as_u64().unwrap())
        .sum();
    assert_eq!(n, doc["incidents"].as_u64().unwrap());
    let h = dir.path().join("h.json");
    run_ok(&[
        "peaks",
        "--by",
        "hotspot",
        "--top",
        "5",
        "--out",
        h.to_str().unwrap(),
    ]);
    let doc = read_json(&h);
    let groups = doc["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 5);
    for g in groups {
        let plan = &g["patrol"];
        assert_eq!(plan["visit_minutes"], 15);
        let ws = plan["windows"].as_array().unwrap();
        assert!(!ws.is_empty(), "{}", g["id"]);
        for w in ws {
            let minutes = w["minutes"].as_u64().unwrap();
            let visits = w["visits"].as_array().unwrap();
            assert_eq!(visits.len() as u64, minutes.div_ceil(120));
        }
    }
    let dw = &doc["diversion_windows"];
    assert!(!dw["weekday"]["windows"].as_array().unwrap().is_empty());
    assert_eq!(
        dw["weekend"]["windows"][0]["days"],
        serde_json::json!(["Sat", "Sun"])
    );
    let e = run_err(&["peaks", "--by", "ward", "--out", "/tmp/x.json"]);
    assert!(e.contains("unknown breakdown"), "{e}");
}
