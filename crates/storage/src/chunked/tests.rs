//! Tests of the chunked tables: growth, persistence, checksums, residency.
use super::*;

fn row_value(r: u32, dim: usize) -> Vec<f32> {
    (0..dim).map(|i| r as f32 * 1000.0 + i as f32).collect()
}

#[test]
fn rows_cross_chunks_and_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 3;
    let shift = 4; // 16 rows per chunk: 50 rows span 4 chunks
    {
        let mut t = ChunkedVectors::open(Some(dir.path()), dim, shift, 0).unwrap();
        for r in 0..50 {
            t.set_row(r, &row_value(r, dim)).unwrap();
        }
        t.flush().unwrap();
        let mut seen = 0;
        t.runs(&mut |first, data| {
            assert_eq!(first as usize, seen);
            seen += data.len() / dim;
        });
        assert_eq!(seen, 50);
    }
    let t = ChunkedVectors::open(Some(dir.path()), dim, shift, 50).unwrap();
    for r in 0..50 {
        assert_eq!(VectorRows::row(&t, r), row_value(r, dim).as_slice());
    }
    assert_eq!(t.mapped_bytes(), 4 * 16 * dim * 4);
}

#[test]
fn a_short_chunk_file_is_reported_as_corruption() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut t = ChunkedVectors::open(Some(dir.path()), 4, 4, 0).unwrap();
        t.set_row(0, &[1.0; 4]).unwrap();
        t.flush().unwrap();
    }
    std::fs::OpenOptions::new().write(true).open(dir.path().join("000000.chunk")).unwrap().set_len(10).unwrap();
    let err = ChunkedVectors::open(Some(dir.path()), 4, 4, 1).unwrap_err();
    assert!(err.to_string().contains("000000.chunk"), "{err}");
}

#[test]
fn anonymous_tables_work_without_a_directory() {
    let mut t = ChunkedVectors::open(None, 2, ChunkedVectors::shift_for(2), 0).unwrap();
    t.set_row(5, &[1.0, 2.0]).unwrap();
    assert_eq!(t.rows(), 6);
    assert_eq!(VectorRows::row(&t, 5), &[1.0, 2.0]);
    assert_eq!(VectorRows::row(&t, 0), &[0.0, 0.0]);
}

#[test]
fn link_rows_are_shared_atomics_and_persist() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    {
        let mut t = ChunkedLinks::open(Some(dir.path()), 5, 3, 0).unwrap();
        t.grow_to(20).unwrap();
        assert!(t.links(19).iter().all(|a| a.load(Ordering::Relaxed) == 0));
        t.links(19)[4].store(77, Ordering::Relaxed);
        t.flush().unwrap();
    }
    let t = ChunkedLinks::open(Some(dir.path()), 5, 3, 20).unwrap();
    assert_eq!(t.links(19)[4].load(Ordering::Relaxed), 77);
}

#[test]
fn released_pages_leave_residency_but_not_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = ChunkedVectors::open(Some(dir.path()), 256, 10, 0).unwrap();
    for r in 0..1024 {
        t.set_row(r, &[r as f32; 256]).unwrap();
    }
    t.flush().unwrap();
    assert!(t.resident_bytes() >= 1024 * 256 * 4, "written rows are resident");
    t.release_resident().unwrap();
    assert!(t.resident_bytes() < 64 * 1024, "released: {} bytes resident", t.resident_bytes());
    assert_eq!(VectorRows::row(&t, 777)[5], 777.0, "data is read back from the file");
    assert!(t.resident_bytes() <= 64 * 1024);
}

#[test]
fn chunk_files_grow_with_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 128;
    let shift = ChunkedVectors::shift_for(dim); // 32 MiB chunks
    let file = dir.path().join("000000.chunk");
    let disk = |p: &Path| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(p).unwrap();
        (m.len() as usize, m.blocks() as usize * 512)
    };
    let mut t = ChunkedVectors::open(Some(dir.path()), dim, shift, 0).unwrap();
    for r in 0..10 {
        t.set_row(r, &row_value(r, dim)).unwrap();
    }
    assert_eq!(disk(&file).0, MIN_FILE_BYTES, "ten rows take the first allocation");
    assert!(disk(&file).1 <= MIN_FILE_BYTES + PAGE, "and no more disk");
    for r in 10..1000 {
        t.set_row(r, &row_value(r, dim)).unwrap();
    }
    let (len, _) = disk(&file);
    assert!((1000 * dim * 4..=2 * 1000 * dim * 4 + PAGE).contains(&len), "doubling: {len}");
    t.flush().unwrap();
    drop(t);
    let t = ChunkedVectors::open(Some(dir.path()), dim, shift, 1000).unwrap();
    assert_eq!(VectorRows::row(&t, 999), row_value(999, dim).as_slice());
    // A file that does not cover the rows the checkpoint names is corruption.
    drop(t);
    let err = ChunkedVectors::open(Some(dir.path()), dim, shift, len / (dim * 4) + 1).unwrap_err();
    assert!(matches!(err, StorageError::Corrupted { .. }), "{err}");
}

#[test]
fn checksums_cover_written_rows_and_catch_damage() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 4;
    let mut t = ChunkedVectors::open(Some(dir.path()), dim, 4, 0).unwrap();
    for r in 0..40 {
        t.set_row(r, &row_value(r, dim)).unwrap();
    }
    let crcs = t.checksums(&[]);
    t.mark_clean();
    assert_eq!(crcs.len(), 3);
    assert_eq!(t.verify(&crcs), (3, vec![]));
    // A row written since: its chunk is not checked against the old sums, then re-summed.
    t.set_row(20, &[9.0; 4]).unwrap();
    assert_eq!(t.verify(&crcs).0, 2);
    let crcs = t.checksums(&crcs);
    t.mark_clean();
    assert_eq!(t.verify(&crcs), (3, vec![]));
    t.flush().unwrap();
    drop(t);
    // Damage at rest: one flipped byte in the second chunk file.
    let p = dir.path().join("000001.chunk");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[17] ^= 0x10;
    std::fs::write(&p, &bytes).unwrap();
    let t = ChunkedVectors::open(Some(dir.path()), dim, 4, 40).unwrap();
    assert_eq!(t.verify(&crcs), (3, vec![p]));
}

#[test]
fn shift_targets_about_32_mib() {
    let s = ChunkedVectors::shift_for(128);
    assert_eq!((1usize << s) * 128 * 4, 32 << 20);
    assert!(((1usize << ChunkedVectors::shift_for(1536)) * 1536 * 4) <= 32 << 20);
}

#[test]
fn loaded_tables_read_their_files_into_memory_and_write_back_at_flush() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut t = ChunkedVectors::open(Some(dir.path()), 16, 4, 0).unwrap();
        for r in 0..40 {
            t.set_row(r, &[r as f32; 16]).unwrap();
        }
        t.flush().unwrap();
    }
    let mut t = ChunkedVectors::open_loaded(dir.path(), 16, 4, 40, false).unwrap();
    assert!(!t.is_mapped() && t.is_file_backed());
    assert_eq!(VectorRows::row(&t, 33)[0], 33.0);
    t.release_resident().unwrap(); // a no-op: dropping anonymous pages would zero them
    assert_eq!(VectorRows::row(&t, 33)[0], 33.0);
    t.set_row(33, &[-1.0; 16]).unwrap();
    t.set_row(40, &[40.0; 16]).unwrap();
    t.flush().unwrap();
    drop(t);
    let t = ChunkedVectors::open(Some(dir.path()), 16, 4, 41).unwrap();
    assert_eq!(VectorRows::row(&t, 33)[0], -1.0);
    assert_eq!(VectorRows::row(&t, 40)[15], 40.0);

    let mut l = ChunkedLinks::open_loaded(&dir.path().join("l"), 3, 2, 0, false).unwrap();
    l.grow_to(9).unwrap();
    l.links(8)[2].store(5, Ordering::Relaxed);
    l.flush().unwrap();
    drop(l);
    let l = ChunkedLinks::open(Some(&dir.path().join("l")), 3, 2, 9).unwrap();
    assert_eq!(l.links(8)[2].load(Ordering::Relaxed), 5, "atomic rows written back whole");
}
