//! KDE benchmark: 1M incidents, 50 m cells, 300 m quartic over the Kent extent
//! (about 2,000 × 1,260 cells), exact and binned paths, each on one thread (`one_thread_*`,
//! the target's terms) and on every core (`all_threads_*`, as the commands run).
//!
//! Run: `cargo bench --bench density`. Target: ≤ 0.1 s compute on one core.

use std::sync::LazyLock;

use divan::counter::ItemsCount;
use divan::Bencher;
use hotspots::boundaries::{BoundaryPack, DistrictIndex};
use hotspots::density::{kde_binned, kde_exact, Grid, Kernel, Scaling};
use hotspots::fixtures::{generate, FixtureOptions};

/// As the binary: large blocks on transparent huge pages.
#[global_allocator]
static ALLOC: hotspots::alloc::HugePageAlloc = hotspots::alloc::HugePageAlloc;

const N: usize = 1_000_000;

/// The grid, then incident eastings, northings and weights.
type Inputs = (Grid, Vec<f64>, Vec<f64>, Vec<f64>);

static PTS: LazyLock<Inputs> = LazyLock::new(|| {
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let rows = generate(
        &pack,
        &index,
        &FixtureOptions {
            seed: 3,
            count: N,
            ..Default::default()
        },
    )
    .unwrap();
    let b = pack.bbox().unwrap();
    let grid = Grid::covering(b.min().x, b.min().y, b.max().x, b.max().y, 50.0);
    let xs = rows.iter().map(|r| r.x_m).collect();
    let ys = rows.iter().map(|r| r.y_m).collect();
    (grid, xs, ys, vec![1.0; N])
});

fn main() {
    let (g, ..) = &*PTS;
    eprintln!("grid {} × {} cells of 50 m", g.nx, g.ny);
    divan::main();
}

/// Runs `f` in a pool of `threads` threads.
fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn exact() -> Vec<f64> {
    let (g, xs, ys, ws) = &*PTS;
    kde_exact(g, xs, ys, ws, Kernel::Quartic, 300.0, Scaling::Density)
}

fn binned() -> Option<Vec<f64>> {
    let (g, xs, ys, ws) = &*PTS;
    kde_binned(g, xs, ys, ws, Kernel::Quartic, 300.0, Scaling::Density)
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn one_thread_exact_quartic_300m_50m_cells_1m_incidents(b: Bencher) {
    b.counter(ItemsCount::new(N)).bench(|| on_threads(1, exact));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn one_thread_binned_quartic_300m_50m_cells_1m_incidents(b: Bencher) {
    b.counter(ItemsCount::new(N))
        .bench(|| on_threads(1, binned));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn all_threads_exact_quartic_300m_50m_cells_1m_incidents(b: Bencher) {
    b.counter(ItemsCount::new(N)).bench(exact);
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn all_threads_binned_quartic_300m_50m_cells_1m_incidents(b: Bencher) {
    b.counter(ItemsCount::new(N)).bench(binned);
}
