//! Shared by the fuzz targets: the embedded Kent and Medway districts, and an ingest of bytes
//! whose accounting must balance whatever they hold.

use hotspots::boundaries::{BoundaryPack, DistrictIndex};
use hotspots::incidents::{IngestOptions, Ingester};
use std::sync::OnceLock;

/// The embedded district index, built once per fuzzing process.
pub fn index() -> &'static DistrictIndex {
    static INDEX: OnceLock<DistrictIndex> = OnceLock::new();
    INDEX.get_or_init(|| DistrictIndex::new(&BoundaryPack::kent_medway().expect("embedded pack")))
}

/// `data` with `header` before it when its first byte is even (so most inputs reach the
/// row checks), or as it is when odd (so header detection is fuzzed too).
pub fn with_header(header: &[u8], data: &[u8]) -> Vec<u8> {
    match data.split_first() {
        Some((b, rest)) if b & 1 == 0 => [header, rest].concat(),
        _ => data.to_vec(),
    }
}

/// Ingests `bytes` as one file: an error is fine (a refused file), a panic is a bug, and an
/// accepted file's accounting must balance (accepted + rejected = rows read).
#[allow(dead_code)]
pub fn ingest(bytes: &[u8]) {
    ingest_with(bytes, Vec::new());
}

/// As [`ingest`], reading through the given input schemas.
pub fn ingest_with(bytes: &[u8], schemas: Vec<std::sync::Arc<hotspots::incidents::InputSchema>>) {
    let opts = IngestOptions {
        split_on_thread: false,
        schemas,
        ..Default::default()
    };
    let mut ing = Ingester::new(index(), opts).expect("ingester");
    if ing.ingest_bytes("fuzz.csv", bytes).is_err() {
        return;
    }
    let (store, report) = ing.finish().expect("finish without a rejects file");
    assert!(report.balances(), "accounting does not balance: {report:?}");
    assert_eq!(store.len() as u64, report.accepted);
}
