//! The engine's long-lived rayon pool, shared by every database in the process so that two
//! open databases do not oversubscribe the cores.

use std::sync::OnceLock;

use rayon::{ThreadPool, ThreadPoolBuilder};

/// The process-wide worker pool (one thread per core).
pub fn pool() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        ThreadPoolBuilder::new()
            .thread_name(|i| format!("libravdb-worker-{i}"))
            .build()
            .expect("failed to start the libravdb worker pool")
    })
}
