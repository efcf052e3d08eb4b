//! The timed incident CSV reader (the project's own format, as the fixtures write it).
#![no_main]
#[path = "common.rs"]
mod common;

const HEADER: &[u8] = b"id,offence,occurred_from,occurred_to,longitude,latitude,victim_age,suspect_age,location_type\n";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(&common::with_header(HEADER, data));
});
