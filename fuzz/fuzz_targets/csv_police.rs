//! The police.uk street-level CSV reader.
#![no_main]
#[path = "common.rs"]
mod common;

const HEADER: &[u8] = b"Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(&common::with_header(HEADER, data));
});
