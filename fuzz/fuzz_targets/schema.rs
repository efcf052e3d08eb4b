//! Input schemas: the schema TOML itself, and partner exports read through the example
//! schemas (police RMS, A&E ISTV, council ASB).
//!
//! The first byte chooses: 0–2 read the rest as a file through that example schema (with
//! its header put first when the second byte is even); 3 and above split the rest at the
//! first NUL into schema text and a file, and read the file through the schema when it
//! parses. A refused schema or file is fine; a panic is a bug; an accepted file's accounting
//! must balance.
#![no_main]
#[path = "common.rs"]
mod common;

use std::sync::{Arc, OnceLock};

use hotspots::incidents::InputSchema;

const EXAMPLES: [(&str, &[u8]); 3] = [
    (
        include_str!("../../schemas/police_rms.toml"),
        include_bytes!("../../schemas/fixtures/police_rms.csv"),
    ),
    (
        include_str!("../../schemas/ae_istv.toml"),
        include_bytes!("../../schemas/fixtures/ae_istv.csv"),
    ),
    (
        include_str!("../../schemas/council_asb.toml"),
        include_bytes!("../../schemas/fixtures/council_asb.csv"),
    ),
];

fn examples() -> &'static [(Arc<InputSchema>, Vec<u8>)] {
    static S: OnceLock<Vec<(Arc<InputSchema>, Vec<u8>)>> = OnceLock::new();
    S.get_or_init(|| {
        EXAMPLES
            .iter()
            .map(|(toml, csv)| {
                let s = InputSchema::parse(toml, "example.toml", "example").expect("example schema");
                let end = csv.iter().position(|&b| b == b'\n').map_or(csv.len(), |i| i + 1);
                (Arc::new(s), csv[..end].to_vec())
            })
            .collect()
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    if let Some((schema, header)) = examples().get(pick as usize) {
        common::ingest_with(&common::with_header(header, rest), vec![schema.clone()]);
        return;
    }
    let (toml, file) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(toml) else {
        return;
    };
    if let Ok(s) = InputSchema::parse(text, "fuzz.toml", "fuzz") {
        common::ingest_with(file, vec![Arc::new(s)]);
    }
});
