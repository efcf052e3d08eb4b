use clap::Parser;

/// Large blocks on transparent huge pages (see `hotspots::alloc`).
#[global_allocator]
static ALLOC: hotspots::alloc::HugePageAlloc = hotspots::alloc::HugePageAlloc;

fn main() -> anyhow::Result<()> {
    hotspots::cli::run(hotspots::cli::Cli::parse())
}
