//! Keeping transient batch buffers from inflating the process's resident memory.
//!
//! A write batch allocates a few transient buffers of several MiB (the encoded WAL record,
//! its framed copy, the ids). glibc serves allocations above its mmap threshold with mmap and
//! returns them on free, but it *raises* that threshold after the first such buffer is freed,
//! so later ones come from the heap and stay resident once freed. Setting the threshold
//! explicitly (which also turns off its dynamic adjustment, see mallopt(3)) keeps buffers of
//! 1 MiB or more on mmap. Measured (`examples/malloc_threshold.rs`, 100k x 128 inserted in 10k
//! batches into an in-memory collection holding 56 MB): RssAnon grows 58.0 MB with it, 63.5 MB
//! without; the 5.5 MB are one batch's freed buffers kept on the heap.
//!
//! This changes malloc for the whole Node process, so it is the host's to refuse: it is not
//! applied when `LIBRAVDB_TUNE_MALLOC=0`, nor when the host already chose a threshold
//! (`MALLOC_MMAP_THRESHOLD_`, or `glibc.malloc.mmap_threshold` in `GLIBC_TUNABLES`).

use std::sync::OnceLock;

/// Buffers at least this large are served by mmap and unmapped when freed.
pub const MMAP_THRESHOLD: usize = 1 << 20;

/// Whether the host left the threshold to us (see the module comment).
fn wanted() -> bool {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    var("LIBRAVDB_TUNE_MALLOC") != "0"
        && std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none()
        && !var("GLIBC_TUNABLES").contains("glibc.malloc.mmap_threshold")
}

/// Applies the allocator setting once per process (glibc only; a no-op elsewhere). Returns
/// whether it is applied.
pub fn configure() -> bool {
    static APPLIED: OnceLock<bool> = OnceLock::new();
    *APPLIED.get_or_init(|| {
        if !wanted() {
            return false;
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes allocator tuning; M_MMAP_THRESHOLD takes a byte count.
        return unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) == 1 };
        #[allow(unreachable_code)]
        false
    })
}

/// A write whose records and metadata took at least this many bytes is followed by a trim.
pub const TRIM_AFTER_BYTES: usize = 4 << 20;

/// After a write that allocated `bytes` of small transient buffers (one id and one metadata
/// string per record: below the mmap threshold, so they come from the heap, often a worker
/// thread's arena), returns the freed heap pages to the system: else they stay resident.
pub fn trim_after(bytes: usize) {
    if bytes < TRIM_AFTER_BYTES || !configure() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}
