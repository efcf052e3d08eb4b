//! Query parameters of the OGC API Features endpoints (bbox, bbox-crs, datetime, crs, limit,
//! offset, f, property filters, selections) against the real router.
#![no_main]
#[path = "server.rs"]
mod server;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((pick, rest)) = data.split_first() else {
        return;
    };
    let query = String::from_utf8_lossy(rest);
    let ids = server::collections();
    let uri = match pick % 4 {
        // Items of a collection with the fuzzed query string.
        0 | 1 => format!(
            "/collections/{}/items?{query}",
            ids[*pick as usize % ids.len()]
        ),
        // One feature, by a fuzzed id and query.
        2 => format!(
            "/collections/{}/items/{query}",
            ids[*pick as usize % ids.len()]
        ),
        // Any path at all.
        _ => format!("/{query}"),
    };
    server::get(&uri);
});
