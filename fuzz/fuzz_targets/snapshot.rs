//! The incident snapshot reader (`.hsnap`): any bytes are refused with an error or read
//! whole; a snapshot that reads has a store and accounting that agree.
#![no_main]
use hotspots::boundaries::BoundaryPack;
use std::io::Write;
use std::sync::OnceLock;

fn pack() -> &'static BoundaryPack {
    static PACK: OnceLock<BoundaryPack> = OnceLock::new();
    PACK.get_or_init(|| BoundaryPack::kent_medway().expect("embedded pack"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut f = tempfile::NamedTempFile::new().expect("temporary file");
    f.write_all(data).expect("write");
    f.flush().expect("flush");
    if let Ok((store, report)) = hotspots::incidents::read_snapshot(f.path(), pack()) {
        assert_eq!(store.len() as u64, report.accepted);
    }
});
