//! `gatehouse-bench`: the measurements behind BENCHMARKS.md (see the library's
//! documentation for what each subcommand measures).

// The same allocator as the `gatehouse` binary: the benches that serve the
// router or run the workers in-process must measure what production runs.
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "gatehouse-bench",
    version,
    about = "Gatehouse's benchmarks: the measurements behind BENCHMARKS.md"
)]
struct Cli {
    #[command(subcommand)]
    command: gatehouse_bench::BenchCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(gatehouse_bench::run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
