// jemalloc gives freed memory back to the system (glibc's malloc kept what the store's rows
// took while the snapshot was loaded: 2.3 GB resident for about 0.4 GB in use at 1M incidents).
// It serves C's malloc too (the feature `unprefixed_malloc_on_supported_platforms`): SQLite's
// copies of the row values are most of what loading takes.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    #[cfg(target_os = "linux")]
    return_freed_memory();
    lagesbild::cli::main()
}

/// Freed pages go back to the system within about a second (jemalloc's default is ten, and
/// then only as later allocations come by): a background thread purges them even while the
/// server is idle after loading the snapshot.
#[cfg(target_os = "linux")]
fn return_freed_memory() {
    use tikv_jemalloc_ctl::{Access, AsName};
    let mut failed = Vec::new();
    if tikv_jemalloc_ctl::background_thread::write(true).is_err() {
        failed.push("background_thread");
    }
    for key in [
        &b"arenas.dirty_decay_ms\0"[..],
        b"arenas.muzzy_decay_ms\0",
        b"arena.0.dirty_decay_ms\0",
        b"arena.0.muzzy_decay_ms\0",
    ] {
        let ms: isize = if key.starts_with(b"arenas.dirty") || key.starts_with(b"arena.0.dirty") {
            1000
        } else {
            0
        };
        if key.name().write(ms).is_err() {
            failed.push(std::str::from_utf8(&key[..key.len() - 1]).unwrap_or("?"));
        }
    }
    if !failed.is_empty() {
        eprintln!(
            "jemalloc: could not set {}; freed memory returns more slowly",
            failed.join(", ")
        );
    }
}
