//! Incident ingest through the CLI: formats, every reject reason, accounting, districts.

mod common;

use common::*;
use serde_json::Value;

fn stats_json(args: &[&str]) -> Value {
    let mut a = vec!["stats", "--json"];
    a.extend_from_slice(args);
    let out = run_ok(&a);
    serde_json::from_slice(&out.stdout).expect("stats --json prints one JSON object")
}

#[test]
fn every_police_uk_excerpt_row_is_in_ashford() {
    let Some(src) = shared(
        "incidents/2022-01-kent-street.excerpt.csv",
        "Ashford excerpt",
    ) else {
        return;
    };
    // Count data rows independently of the ingest code.
    let data_rows = csv::Reader::from_path(&src).unwrap().records().count() as u64;
    assert!(data_rows >= 75);
    let dir = tmp();
    let rej = dir.path().join("rej.csv");
    let v = stats_json(&[
        "--incidents",
        src.to_str().unwrap(),
        "--rejects",
        rej.to_str().unwrap(),
    ]);
    assert_eq!(v["rows_read"], data_rows);
    assert_eq!(v["accepted"], data_rows);
    assert_eq!(v["rejected"], 0);
    assert_eq!(
        v["month_only"], data_rows,
        "police.uk rows carry months only"
    );
    assert_eq!(v["by_district"]["E07000105"], data_rows);
    let others: u64 = v["by_district"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "E07000105")
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    assert_eq!(others, 0);
    assert_eq!(v["files"][0]["format"], "police_uk");
    assert!(!rej.exists(), "no rejects file when nothing is rejected");
}

#[test]
fn canterbury_cathedral_against_cs2cs_and_lands_in_canterbury() {
    use hotspots::boundaries::{BoundaryPack, DistrictIndex};
    use hotspots::crs::Transformer;
    let (e, n) = Transformer::wgs84_to_bng()
        .unwrap()
        .convert(1.0830, 51.2798)
        .unwrap();
    // PROJ's own command-line answer, when cs2cs is installed (.ci/install installs proj-bin).
    match std::process::Command::new("cs2cs")
        .args(["-f", "%.4f", "EPSG:4326", "EPSG:27700"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"51.2798 1.0830\n")
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let nums: Vec<f64> = text
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
            assert!(nums.len() >= 2, "cs2cs printed {text}");
            // cs2cs has no OSTN15 grid here: its Helmert answer is 1.9–2.5 m from ours,
            // and our own PROJ route gives cs2cs's answer.
            let d = (e - nums[0]).hypot(n - nums[1]);
            assert!(
                (1.9..=2.5).contains(&d),
                "ours {e},{n} cs2cs {nums:?}: {d} m"
            );
            let (he, hn) = Transformer::proj_wgs84_to_bng()
                .unwrap()
                .convert(1.0830, 51.2798)
                .unwrap();
            assert!(
                (he - nums[0]).abs() < 0.001 && (hn - nums[1]).abs() < 0.001,
                "PROJ {he},{hn} cs2cs {nums:?}"
            );
        }
        Err(_) => {
            eprintln!("SKIP cs2cs comparison: cs2cs not installed (apt-get install proj-bin)")
        }
    }
    let pack = BoundaryPack::kent_medway().unwrap();
    let d = DistrictIndex::new(&pack).locate(e, n).expect("inside Kent");
    assert_eq!(pack.districts[d as usize].code, "E07000106");
}

const HEADER: &str = "id,offence,occurred_from,occurred_to,longitude,latitude,harm_weight,victim_age,suspect_age,location_type\n";

/// (row text, expected reason or "" for accepted, expected field)
const ROWS: [(&str, &str, &str); 19] = [
    (
        "A1,Robbery,2025-06-01T18:30,,1.0830,51.2798,,,,street",
        "",
        "",
    ),
    ("A2,Robbery,2025-06-01T18:30", "wrong_column_count", "id"),
    (
        ",Robbery,2025-06-01T18:30,,1.08,51.28,,,,",
        "missing_id",
        "id",
    ),
    (
        "A1,Robbery,2025-06-01T19:30,,1.08,51.28,,,,",
        "duplicate_id",
        "id",
    ),
    (
        "A3,,2025-06-01T18:30,,1.08,51.28,,,,",
        "missing_offence",
        "offence",
    ),
    (
        "A4,Robbery,2025-06-01T18:30,,,51.28,,,,",
        "missing_coordinates",
        "longitude",
    ),
    (
        "A5,Robbery,2025-06-01T18:30,,1.08,abc,,,,",
        "unparsable_coordinate",
        "latitude",
    ),
    (
        "A6,Robbery,2025-06-01T18:30,,200.0,51.28,,,,",
        "coordinate_out_of_range",
        "longitude",
    ),
    (
        "A7,Robbery,2025-06-01T18:30,,51.2798,1.0830,,,,",
        "likely_swapped_lat_lon",
        "longitude",
    ),
    (
        "A8,Robbery,2025-06-01T18:30,,-0.1276,51.5072,,,,",
        "outside_districts",
        "longitude",
    ),
    (
        "A9,Robbery,,,1.08,51.28,,,,",
        "missing_datetime",
        "occurred_from",
    ),
    (
        "A10,Robbery,2025-02-30T10:00,,1.08,51.28,,,,",
        "bad_datetime",
        "occurred_from",
    ),
    (
        "A11,Robbery,2025-06-01T18:30,2025-06-01T17:00,1.08,51.28,,,,",
        "end_before_start",
        "occurred_to",
    ),
    (
        "A12,Robbery,2025-06-01T18:30,,1.08,51.28,-3,,,",
        "bad_harm_weight",
        "harm_weight",
    ),
    (
        "A13,Robbery,2025-06-01T18:30,,1.08,51.28,,300,,",
        "bad_age",
        "victim_age",
    ),
    (
        "A14,Robbery,2025-06-01T18:30,2025-06-01T18:,1.08,51.28,,,,",
        "bad_datetime",
        "occurred_to",
    ),
    (
        "A15,Rob\u{fffd}bery,2025-03-30T01:30,,1.08,51.28,12.5,17,19,",
        "",
        "",
    ),
    (
        "A16,Sexual assault,2025-10-26T01:30+00:00,2025-10-26T03:00,0.5219,51.2738,,16,,park",
        "",
        "",
    ),
    (
        "A17,Robbery,2025-06-01T18:30,,0.5,51.0,,,,",
        "outside_districts",
        "longitude",
    ),
];

#[test]
fn every_kind_of_bad_row_is_rejected_with_its_reason_and_nothing_is_lost() {
    let dir = tmp();
    let mut bytes = HEADER.as_bytes().to_vec();
    for (row, _, _) in ROWS {
        bytes.extend_from_slice(row.as_bytes());
        bytes.push(b'\n');
    }
    // (A file that is not UTF-8 is decoded, not rejected row by row: see
    // other_encodings_and_delimiters_read_to_the_same_incidents.)
    let timed = dir.path().join("bad.csv");
    std::fs::write(&timed, &bytes).unwrap();
    let police = write(
        dir.path(),
        "police.csv",
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n\
         ,2022-13,Kent Police,Kent Police,0.87,51.15,On or near X,E01,Ashford 001A,Anti-social behaviour,,\n\
         P2,2022-01,Kent Police,Kent Police,,,No location,,,Burglary,,\n\
         P3,2022-01,Kent Police,Kent Police,0.87,51.15,On or near Y,E01,Ashford 001A,Robbery,,\n",
    );
    let rej = dir.path().join("rejects.csv");
    let v = stats_json(&[
        "--incidents",
        timed.to_str().unwrap(),
        police.to_str().unwrap(),
        "--rejects",
        rej.to_str().unwrap(),
    ]);
    let expected_rejects = ROWS.iter().filter(|r| !r.1.is_empty()).count() as u64 + 2;
    let rows = ROWS.len() as u64 + 3;
    assert_eq!(v["rows_read"], rows);
    assert_eq!(v["rejected"], expected_rejects);
    assert_eq!(v["accepted"], rows - expected_rejects);
    let by_reason = v["rejected_by_reason"].as_object().unwrap();
    assert_eq!(
        by_reason.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        expected_rejects
    );
    for reason in [
        "wrong_column_count",
        "missing_id",
        "duplicate_id",
        "missing_offence",
        "missing_coordinates",
        "unparsable_coordinate",
        "coordinate_out_of_range",
        "likely_swapped_lat_lon",
        "outside_districts",
        "missing_datetime",
        "bad_datetime",
        "end_before_start",
        "bad_harm_weight",
        "bad_age",
        "bad_month",
    ] {
        assert!(
            by_reason.contains_key(reason),
            "no {reason} in {by_reason:?}"
        );
    }
    assert_eq!(by_reason["bad_datetime"], 2);
    assert_eq!(by_reason["outside_districts"], 2);
    assert_eq!(
        by_reason["missing_coordinates"], 2,
        "timed and police.uk rows without a location"
    );

    // The rejects file: one row per rejection, naming file, line and field.
    let mut r = csv::Reader::from_path(&rej).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["file", "line", "reason", "field", "value", "message", "raw"]
    );
    let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(recs.len() as u64, expected_rejects);
    for (i, (_, reason, field)) in ROWS.iter().enumerate() {
        if reason.is_empty() {
            continue;
        }
        let line = (i + 2).to_string();
        let rec = recs
            .iter()
            .find(|rec| rec[0].ends_with("bad.csv") && rec[1] == line)
            .unwrap_or_else(|| panic!("line {line} not in rejects"));
        assert_eq!(&rec[2], *reason, "line {line}");
        assert_eq!(&rec[3], *field, "line {line}");
        assert!(!rec[5].is_empty(), "line {line} has a message");
    }
    let month = recs.iter().find(|r| &r[2] == "bad_month").unwrap();
    assert!(
        month[0].ends_with("police.csv")
            && &month[1] == "2"
            && &month[3] == "month"
            && &month[4] == "2022-13"
    );
}

#[test]
fn unrecognised_headers_name_the_file_and_missing_columns() {
    let dir = tmp();
    let p = write(
        dir.path(),
        "odd.csv",
        "id,offence,occurred_from,longitude,latitude\nA,B,2025-01-01T10:00,1,51\n",
    );
    let e = run_err(&["stats", "--incidents", p.to_str().unwrap()]);
    assert!(
        e.contains("odd.csv") && e.contains("line 1") && e.contains("occurred_to"),
        "{e}"
    );
    let e = run_err(&[
        "stats",
        "--incidents",
        dir.path().join("missing.csv").to_str().unwrap(),
    ]);
    assert!(
        e.contains("missing.csv") && e.contains("cannot read"),
        "{e}"
    );
}

#[test]
fn the_generator_reproduces_the_committed_fixture_and_it_all_ingests() {
    let dir = tmp();
    let out = dir.path().join("f.csv");
    let seed = hotspots::fixtures::DEFAULT_FIXTURE_SEED.to_string();
    let count = hotspots::fixtures::DEFAULT_FIXTURE_COUNT.to_string();
    run_ok(&[
        "fixtures",
        "generate",
        "--seed",
        &seed,
        "--count",
        &count,
        "--out",
        out.to_str().unwrap(),
    ]);
    let made = std::fs::read(&out).unwrap();
    assert!(
        made == hotspots::fixtures::DEFAULT_FIXTURE,
        "fixtures/kent_incidents.csv is not what the generator makes"
    );
    assert!(made.len() <= 5 * 1024 * 1024);
    let v = stats_json(&[]);
    assert_eq!(
        v["accepted"],
        hotspots::fixtures::DEFAULT_FIXTURE_COUNT as u64
    );
    assert_eq!(v["rejected"], 0);
    // North and East Kent plus Maidstone carry most of it, as in the needs assessment.
    let d = &v["by_district"];
    let ne: u64 = [
        "E06000035",
        "E07000114",
        "E07000106",
        "E07000110",
        "E07000113",
        "E07000108",
    ]
    .iter()
    .map(|c| d[c].as_u64().unwrap())
    .sum();
    assert!(
        ne * 2 > hotspots::fixtures::DEFAULT_FIXTURE_COUNT as u64,
        "{ne}"
    );
    // Another seed gives another file.
    let other = dir.path().join("g.csv");
    run_ok(&[
        "fixtures",
        "generate",
        "--seed",
        "7",
        "--count",
        "200",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert_ne!(std::fs::read(&other).unwrap()[..2000], made[..2000]);
}

#[test]
fn easting_northing_input_lands_in_the_same_districts() {
    let dir = tmp();
    let ll = dir.path().join("ll.csv");
    let en = dir.path().join("en.csv");
    run_ok(&[
        "fixtures",
        "generate",
        "--seed",
        "11",
        "--count",
        "3000",
        "--out",
        ll.to_str().unwrap(),
    ]);
    run_ok(&[
        "fixtures",
        "generate",
        "--seed",
        "11",
        "--count",
        "3000",
        "--bng",
        "--out",
        en.to_str().unwrap(),
    ]);
    let a = stats_json(&["--incidents", ll.to_str().unwrap()]);
    let b = stats_json(&["--incidents", en.to_str().unwrap()]);
    assert_eq!(b["files"][0]["format"], "timed_bng");
    assert_eq!(b["accepted"], 3000);
    // 6-decimal degrees vs 0.1 m rounding: at most a handful of boundary points may differ.
    let mut diff = 0i64;
    for (k, n) in a["by_district"].as_object().unwrap() {
        diff += (n.as_i64().unwrap() - b["by_district"][k].as_i64().unwrap()).abs();
    }
    assert!(diff <= 4, "district counts differ by {diff}");
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        vec!["--help"],
        vec!["stats", "--help"],
        vec!["boundaries", "import", "--help"],
        vec!["fixtures", "generate", "--help"],
    ] {
        let out = run_ok(&sub);
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
}

/// Case f05 and issue 18: exports in Windows-1252, UTF-16 (either byte order, with its BOM),
/// semicolon-delimited with decimal commas, or tab-delimited, read to the same incidents as
/// the UTF-8 comma file, with nothing lost and the encoding and delimiter recorded.
#[test]
fn other_encodings_and_delimiters_read_to_the_same_incidents() {
    let rows = [
        [
            "E1",
            "Assault with injury",
            "2025-03-07T22:15:00",
            "",
            "0.5221",
            "51.2734",
            "McDonald’s restaurant",
        ],
        [
            "E2",
            "Robbery",
            "2025-03-08T21:05:00",
            "",
            "1.0801",
            "51.2790",
            "Café – late bar",
        ],
        [
            "E3",
            "Robbery",
            "2025-03-09T20:00:00",
            "",
            "0.5230",
            "51.2740",
            "street",
        ],
    ];
    let header = [
        "id",
        "offence",
        "occurred_from",
        "occurred_to",
        "longitude",
        "latitude",
        "location_type",
    ];
    let join = |sep: &str, comma: bool| -> String {
        let mut t = header.join(sep) + "\r\n";
        for r in &rows {
            let f: Vec<String> = r
                .iter()
                .map(|v| {
                    if comma {
                        v.replace('.', ",")
                    } else {
                        v.to_string()
                    }
                })
                .collect();
            t += &(f.join(sep) + "\r\n");
        }
        t
    };
    let utf8 = join(",", false);
    let mut le = vec![0xFF, 0xFE];
    let mut be = vec![0xFE, 0xFF];
    for u in utf8.encode_utf16() {
        le.extend(u.to_le_bytes());
        be.extend(u.to_be_bytes());
    }
    let (cp1252, _, lossy) = encoding_rs::WINDOWS_1252.encode(&utf8);
    assert!(!lossy);
    // Mixed: the first venue in Windows-1252, the rest UTF-8.
    let mut mixed = utf8
        .replacen("McDonald’s", "McDonald\u{0}s", 1)
        .into_bytes();
    let at = mixed.iter().position(|&b| b == 0).unwrap();
    mixed[at] = 0x92;
    let variants: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("utf8.csv", utf8.clone().into_bytes(), "UTF-8", "comma"),
        (
            "bom.csv",
            [&[0xEF, 0xBB, 0xBF][..], utf8.as_bytes()].concat(),
            "UTF-8",
            "comma",
        ),
        ("cp1252.csv", cp1252.into_owned(), "windows-1252", "comma"),
        ("mixed.csv", mixed, "UTF-8 with windows-1252 bytes", "comma"),
        ("utf16le.csv", le, "UTF-16LE", "comma"),
        ("utf16be.csv", be, "UTF-16BE", "comma"),
        (
            "semi.csv",
            join(";", true).into_bytes(),
            "UTF-8",
            "semicolon",
        ),
        ("tab.tsv", join("\t", false).into_bytes(), "UTF-8", "tab"),
    ];
    let reference = store_of("utf8.csv", utf8.as_bytes());
    assert_eq!(reference.len(), 3);
    let labels = |s: &hotspots::incidents::IncidentStore| -> Vec<String> {
        s.location_type
            .iter()
            .map(|&l| s.location_types.name(l).to_string())
            .collect()
    };
    assert_eq!(labels(&reference)[0], "McDonald’s restaurant");
    let dir = tmp();
    for (name, bytes, encoding, delimiter) in variants {
        let s = store_of(name, &bytes);
        assert_eq!(s.len(), 3, "{name}");
        assert_eq!(s.x_m, reference.x_m, "{name}");
        assert_eq!(s.y_m, reference.y_m, "{name}");
        assert_eq!(s.from_min, reference.from_min, "{name}");
        assert_eq!(labels(&s), labels(&reference), "{name}");
        // Recorded per file, and the SHA-256 is of the bytes as given.
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let v = stats_json(&["--incidents", p.to_str().unwrap(), "--rejects", "/dev/null"]);
        let f = &v["files"][0];
        assert_eq!(f["encoding"], encoding, "{name}: {f}");
        assert_eq!(f["delimiter"], delimiter, "{name}: {f}");
        use sha2::Digest;
        assert_eq!(
            f["sha256"],
            format!("{:x}", sha2::Sha256::digest(&bytes)),
            "{name}"
        );
    }
    // A rejected row of a Windows-1252 file keeps its original text (decoded, not U+FFFD).
    let bad = utf8.replace("2025-03-07T22:15:00", "07/03/2025 22:15");
    let (bad, _, _) = encoding_rs::WINDOWS_1252.encode(&bad);
    let p = dir.path().join("bad.csv");
    let rejects = dir.path().join("bad.rejects.csv");
    std::fs::write(&p, &bad).unwrap();
    run_ok(&[
        "stats",
        "--incidents",
        p.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&rejects).unwrap();
    assert!(
        text.contains("McDonald’s restaurant") && !text.contains('\u{FFFD}'),
        "{text}"
    );
}

/// Issue 18: a timed export may give positions as OS grid references (`grid_ref`), read as
/// EPSG:27700 at the centre of the square named; a blank or bad reference is rejected with
/// its reason, naming the column.
#[test]
fn grid_references_are_read_as_the_centre_of_their_square() {
    let text = "id,offence,occurred_from,occurred_to,grid_ref\n\
                g1,Robbery,2025-03-07T22:15:00,,TQ 7565 5512\n\
                g2,Robbery,2025-03-07T22:15:00,,tq757551\n\
                g3,Robbery,2025-03-07T22:15:00,,\n\
                g4,Robbery,2025-03-07T22:15:00,,XX 1 2\n\
                g5,Robbery,2025-03-07T22:15:00,,TQ 123 45\n";
    let s = store_of("grid.csv", text.as_bytes());
    assert_eq!(s.len(), 2);
    assert_eq!((s.x_m[0], s.y_m[0]), (575_655.0, 155_125.0));
    assert_eq!((s.x_m[1], s.y_m[1]), (575_750.0, 155_150.0));
    let dir = tmp();
    let p = write(dir.path(), "grid.csv", text);
    let rejects = dir.path().join("r.csv");
    let v = stats_json(&[
        "--incidents",
        p.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert_eq!(v["rejected_by_reason"]["missing_coordinates"], 1, "{v}");
    assert_eq!(v["rejected_by_reason"]["unparsable_coordinate"], 2, "{v}");
    let r = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(r.matches(",grid_ref,").count(), 3, "{r}");
}
