//! Ingest benchmark: 1M timed rows parsed, transformed (OSTN15 lattice), assigned to districts,
//! checked for duplicate ids, stored and indexed (rstar), on one thread; and the same with
//! records split (and the file hashed) on a second thread, as the commands run.
//!
//! Run: `cargo bench --bench ingest`. Target: ≥ 1M rows/s, ≤ 64 bytes per incident beyond
//! the index.

use std::sync::LazyLock;

use divan::counter::ItemsCount;
use divan::Bencher;
use hotspots::boundaries::{BoundaryPack, DistrictIndex};
use hotspots::fixtures::{generate, write_csv_to, FixtureOptions};
use hotspots::incidents::{IncidentIndex, IngestOptions, Ingester};

/// As the binary: large blocks on transparent huge pages.
#[global_allocator]
static ALLOC: hotspots::alloc::HugePageAlloc = hotspots::alloc::HugePageAlloc;

const ROWS: usize = 1_000_000;

static PACK: LazyLock<BoundaryPack> = LazyLock::new(|| BoundaryPack::kent_medway().unwrap());
static INDEX: LazyLock<DistrictIndex> = LazyLock::new(|| DistrictIndex::new(&PACK));
static CSV: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let opts = FixtureOptions {
        seed: 99,
        count: ROWS,
        ..Default::default()
    };
    let rows = generate(&PACK, &INDEX, &opts).unwrap();
    let mut out = Vec::new();
    write_csv_to(&rows, false, &mut out).unwrap();
    out
});

/// The ingest on one thread (`split_on_thread: false`, the target's terms) or with records
/// split on a second thread (as the commands run).
fn ingest_with(split_on_thread: bool) -> (hotspots::incidents::IncidentStore, IncidentIndex) {
    let opts = IngestOptions {
        split_on_thread,
        ..Default::default()
    };
    let mut ing = Ingester::new(&INDEX, opts).unwrap();
    ing.ingest_bytes("bench.csv", &CSV).unwrap();
    let (store, report) = ing.finish().unwrap();
    assert_eq!(report.accepted as usize, ROWS);
    let index = IncidentIndex::build(&store);
    (store, index)
}

fn main() {
    let (store, _) = ingest_with(false);
    eprintln!(
        "store: {} incidents, {:.1} bytes per incident beyond the index ({} MB CSV)",
        store.len(),
        store.heap_bytes() as f64 / store.len() as f64,
        CSV.len() / 1_000_000
    );
    divan::main();
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn ingest_1m_timed_rows(b: Bencher) {
    b.counter(ItemsCount::new(ROWS))
        .bench_local(|| ingest_with(false));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn ingest_1m_timed_rows_split_on_a_second_thread(b: Bencher) {
    b.counter(ItemsCount::new(ROWS))
        .bench_local(|| ingest_with(true));
}

/// A million points over Kent.
fn kent_points() -> Vec<(f64, f64)> {
    (0..ROWS)
        .map(|i| {
            (
                0.2 + (i % 1000) as f64 * 1e-3,
                51.0 + (i / 1000) as f64 * 4e-4,
            )
        })
        .collect()
}

/// Times `convert` over a million points around Kent.
fn bench_transform(b: Bencher, convert: impl Fn(&mut [(f64, f64)])) {
    let pts = kent_points();
    b.counter(ItemsCount::new(ROWS)).bench_local(|| {
        let mut p = pts.clone();
        convert(&mut p);
        p
    });
}

/// Exact OSTN15, point by point.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn transform_ostn15_1m_points(b: Bencher) {
    let t = hotspots::crs::Transformer::wgs84_to_bng().unwrap();
    bench_transform(b, |p| t.convert_in_place(p).unwrap());
}

/// PROJ's Helmert route (no OSTN15 grid), for comparison.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn transform_proj_helmert_1m_points(b: Bencher) {
    let t = hotspots::crs::Transformer::proj_wgs84_to_bng().unwrap();
    bench_transform(b, |p| t.convert_in_place(p).unwrap());
}

/// The ingest route: bilinear in an OSTN15-computed 0.005° lattice (≤ 3 cm from OSTN15).
#[divan::bench(sample_count = 5, sample_size = 1)]
fn transform_lattice_1m_points(b: Bencher) {
    let t = hotspots::crs::LatticeTransformer::wgs84_to_bng([-0.2, 50.8, 1.6, 51.6]).unwrap();
    bench_transform(b, |p| t.convert_in_place(p).unwrap());
}

/// The index alone: bucketing a million stored incidents and bulk-loading the rstar tree.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn index_only_1m(b: Bencher) {
    let (store, _) = ingest_with(false);
    b.counter(ItemsCount::new(ROWS))
        .bench_local(|| IncidentIndex::build(&store));
}

/// Queries on the index: 10,000 radius queries of 300 m centred on stored incidents.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn radius_300m_10k_queries(b: Bencher) {
    let (store, index) = ingest_with(false);
    b.counter(ItemsCount::new(10_000usize)).bench_local(|| {
        let mut found = 0usize;
        for i in (0..store.len()).step_by(store.len() / 10_000) {
            found += index
                .within_radius(store.x_m[i], store.y_m[i], 300.0)
                .count();
        }
        found
    });
}

/// A million ids like the ingest's, for the duplicate-table benches.
fn million_ids() -> Vec<Vec<u8>> {
    (0..ROWS)
        .map(|i| format!("KM-{i:07}").into_bytes())
        .collect()
}

/// The duplicate-id table as ingest uses it: hashes and slot touches per 4,096-row chunk,
/// then inserts.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn seen_ids_1m_inserts(b: Bencher) {
    use hotspots::incidents::seen_ids::{IdHasher, SeenIds};
    let ids = million_ids();
    let hasher = IdHasher::default();
    b.counter(ItemsCount::new(ROWS)).bench_local(|| {
        let mut set = SeenIds::new();
        set.reserve(ROWS);
        for (c, chunk) in ids.chunks(4096).enumerate() {
            let mut touched = 0;
            let hashes: Vec<u64> = chunk
                .iter()
                .map(|id| {
                    let h = hasher.hash(id);
                    touched ^= set.touch(h);
                    h
                })
                .collect();
            divan::black_box(touched);
            for (k, (id, h)) in chunk.iter().zip(hashes).enumerate() {
                let row = (c * 4096 + k) as u32;
                let _ = set.insert(h, id, row, |r| &ids[r as usize]);
            }
        }
        set.len()
    });
}

/// The same with `hashbrown::HashTable<u32>` (what ingest used before), for comparison.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn hashbrown_1m_inserts(b: Bencher) {
    use std::hash::BuildHasher;
    let ids = million_ids();
    let hasher = hashbrown::DefaultHashBuilder::default();
    b.counter(ItemsCount::new(ROWS)).bench_local(|| {
        let mut set: hashbrown::HashTable<u32> = hashbrown::HashTable::new();
        set.reserve(ROWS, |&r| hasher.hash_one(&ids[r as usize]));
        for (row, id) in ids.iter().enumerate() {
            let h = hasher.hash_one(id);
            if set.find(h, |&r| ids[r as usize] == *id).is_none() {
                set.insert_unique(h, row as u32, |&r| hasher.hash_one(&ids[r as usize]));
            }
        }
        set.len()
    });
}

/// A million coordinate texts as the fixtures write them.
fn coordinate_texts() -> Vec<String> {
    kent_points()
        .iter()
        .map(|&(lon, lat)| format!("{lon:.6},{lat:.6}"))
        .flat_map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>())
        .take(ROWS)
        .collect()
}

/// Coordinates through the project's exact fast path (`incidents::decimal`).
#[divan::bench(sample_count = 5, sample_size = 1)]
fn decimal_1m_fast_path(b: Bencher) {
    let texts = coordinate_texts();
    b.counter(ItemsCount::new(ROWS)).bench_local(|| {
        texts
            .iter()
            .map(|t| hotspots::incidents::decimal::parse_f64(t).unwrap_or(0.0))
            .sum::<f64>()
    });
}

/// The same through `str::parse::<f64>`.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn decimal_1m_std_parse(b: Bencher) {
    let texts = coordinate_texts();
    b.counter(ItemsCount::new(ROWS)).bench_local(|| {
        texts
            .iter()
            .map(|t| t.parse::<f64>().unwrap_or(0.0))
            .sum::<f64>()
    });
}
