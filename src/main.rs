use clap::Parser;

/// Large blocks on transparent huge pages (see `hotspots::alloc`).
#[global_allocator]
static ALLOC: hotspots::alloc::HugePageAlloc = hotspots::alloc::HugePageAlloc;

/// Errors end the process with status 1 and one line: through the log (text or JSON, as
/// `--log-format` says), without a backtrace.
fn main() {
    if let Err(e) = hotspots::cli::run(hotspots::cli::Cli::parse()) {
        hotspots::cli::report_error(&e);
        std::process::exit(1);
    }
}
