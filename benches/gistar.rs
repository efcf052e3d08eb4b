//! Gi* benchmark: Kent at H3 resolution 9 (about 40,000 land cells) from 200k incidents,
//! 999 permutations, on one thread (a one-thread rayon pool).
//!
//! Run: `cargo bench --bench gistar`. Target: ≤ 1 s.

use std::sync::LazyLock;

use divan::Bencher;
use hotspots::boundaries::{BoundaryPack, DistrictIndex};
use hotspots::fixtures::{generate, FixtureOptions};
use hotspots::gistar::{gi_star, permutation_p, CellKind, CellSet, Neighbourhood};

/// As the binary: large blocks on transparent huge pages.
#[global_allocator]
static ALLOC: hotspots::alloc::HugePageAlloc = hotspots::alloc::HugePageAlloc;

/// The cells and the counts per cell.
static INPUT: LazyLock<(CellSet, Vec<f64>)> = LazyLock::new(|| {
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let rows = generate(
        &pack,
        &index,
        &FixtureOptions {
            seed: 4,
            count: 200_000,
            ..Default::default()
        },
    )
    .unwrap();
    let cells = CellSet::build(&pack, &index, CellKind::H3(9), Neighbourhood::Ring(1)).unwrap();
    let pts: Vec<(f64, f64)> = rows.iter().map(|r| (r.x_m, r.y_m)).collect();
    let assigned = cells.assign_points(&pts).unwrap();
    let mut x = vec![0.0; cells.len()];
    for c in assigned.into_iter().flatten() {
        x[c as usize] += 1.0;
    }
    (cells, x)
});

fn main() {
    let (c, x) = &*INPUT;
    eprintln!(
        "{} land cells, {} incidents in them",
        c.len(),
        x.iter().sum::<f64>()
    );
    divan::main();
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn gi_star_analytic(b: Bencher) {
    let (c, x) = &*INPUT;
    b.bench(|| gi_star(x, &c.neighbours));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn permutations_999_one_thread(b: Bencher) {
    let (c, x) = &*INPUT;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    b.bench(|| pool.install(|| permutation_p(x, &c.neighbours, 999, 1)));
}
