//! Tile paths (vector tiles of each layer, heatmap tiles, TileJSON) against the real router.
#![no_main]
#[path = "server.rs"]
mod server;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((pick, rest)) = data.split_first() else {
        return;
    };
    let path = String::from_utf8_lossy(rest);
    let ids = server::collections();
    let uri = match pick % 3 {
        0 => format!("/tiles/{}/{path}", ids[*pick as usize % ids.len()]),
        1 => format!("/tiles/density/{path}"),
        _ => format!("/tiles/{path}"),
    };
    server::get(&uri);
});
