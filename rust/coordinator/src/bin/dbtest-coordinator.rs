//! The coordinator as a plain executable, for Rust-side integration tests and
//! debugging: `dbtest-coordinator '<json arguments>'` takes the same arguments
//! the Python shim passes to `dbtest._core.run`.

use std::sync::atomic::{AtomicBool, Ordering};

// The same allocator as the Python extension, so timings agree.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = match args.as_slice() {
        [json] => json.clone(),
        [] => "{}".to_string(),
        _ => {
            eprintln!("usage: dbtest-coordinator '<json arguments>'");
            std::process::exit(dbtest_coordinator::exit::USAGE_ERROR);
        }
    };
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
    let code = dbtest_coordinator::run_json(&json, None, &|| INTERRUPTED.load(Ordering::SeqCst));
    std::process::exit(code);
}
