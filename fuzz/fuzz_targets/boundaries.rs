//! The boundary loaders: a boundary pack (GeoJSON in EPSG:27700) and an ONS district file
//! imported with repair and simplification. Errors are fine; a pack that loads or is made
//! must write out as a pack that loads again with the same districts.
#![no_main]
use hotspots::boundaries::{import_districts_bytes, BoundaryPack, ImportOptions};

fn check(pack: &BoundaryPack) {
    let text = pack.to_geojson_string(0.1);
    let again = BoundaryPack::from_geojson_str(&text, "again").expect("a written pack reads");
    assert_eq!(again.districts.len(), pack.districts.len());
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let text = String::from_utf8_lossy(rest);
        if let Ok(pack) = BoundaryPack::from_geojson_str(&text, "fuzz") {
            check(&pack);
        }
    } else {
        // Districts named by the first feature codes any input uses in the corpus.
        let opts = ImportOptions {
            codes: Some(vec!["E07000110".into()]),
            ..Default::default()
        };
        if let Ok((pack, _)) = import_districts_bytes(rest, "fuzz.geojson", &opts) {
            check(&pack);
        }
    }
});
