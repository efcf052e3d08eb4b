use clap::Parser;

fn main() -> anyhow::Result<()> {
    hotspots::cli::run(hotspots::cli::Cli::parse())
}
