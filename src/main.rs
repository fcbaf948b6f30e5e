//! The `uc-operator` command line: thin dispatch to the library.

use std::process::ExitCode;

// jemalloc, configured to give freed memory back: glibc's malloc keeps what a burst of
// reconciles freed (and an arena per thread), and musl's, in the image, is slow. A background
// thread returns unused pages after about a second even when the operator is idle; no MADV_FREE
// stage (such pages still count in RSS); two arenas instead of four per CPU (docs/performance.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 70] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2\0";

fn main() -> anyhow::Result<ExitCode> {
    uc_operator::cli::main()
}
