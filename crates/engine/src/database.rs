//! A database: a directory of collections (or an in-memory set of them) with one writer.
//!
//! ```text
//! <root>/LOCK                  flock held while open
//! <root>/collections/<name>/   one directory per collection (see collection::format)
//! <root>/BACKUP-INCOMPLETE     only in a backup being written (or interrupted): opening fails
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use libravdb_storage::{DirLock, IoContext, StorageError, fsutil};
use parking_lot::{Mutex, RwLock};

use crate::cancel::Cancel;
use crate::collection::{Collection, VerifyReport};
use crate::config::{CollectionConfig, DbOptions, validate_collection_name};
use crate::error::{Error, Result};
use crate::memory::MemoryParts;

/// `Database::memory_usage`: the database's held bytes, its limit, and each collection's parts.
#[derive(Debug, Clone)]
pub struct MemoryUsage {
    /// Bytes held (heap and anonymous memory) by every collection: what the limit is measured
    /// against.
    pub total: u64,
    pub limit: Option<u64>,
    /// The pressure threshold, as a share of the limit.
    pub pressure: f64,
    pub under_pressure: bool,
    /// Upward crossings of the pressure threshold since the database opened.
    pub pressure_events: u64,
    pub collections: Vec<(String, MemoryParts)>,
}

/// A backup being written carries this file until it is complete: a backup interrupted by a
/// crash never opens as a valid, partial database.
const BACKUP_MARKER: &str = "BACKUP-INCOMPLETE";

/// What `Database::backup` wrote.
#[derive(Debug, Clone, Default)]
pub struct BackupReport {
    /// The collections copied (one dropped meanwhile is left out).
    pub collections: Vec<String>,
    /// Bytes hard-linked or copied.
    pub bytes: u64,
}

/// An open database.
#[derive(Debug)]
pub struct Database {
    root: Option<PathBuf>,
    options: DbOptions,
    lock: Mutex<Option<DirLock>>,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
    /// Names being created: reserved without holding `collections`, so that lookups and
    /// listings never wait for a creation's file I/O.
    creating: Mutex<BTreeSet<String>>,
    closed: AtomicBool,
}

impl Database {
    /// Opens (creating if needed) the database at `root`, or an in-memory one for `None`.
    /// Every collection is recovered (checkpoint + WAL replay) before this returns.
    pub fn open(root: Option<&Path>, options: DbOptions) -> Result<Database> {
        crate::alloc::configure();
        let mut collections = BTreeMap::new();
        let lock = match root {
            None => None,
            Some(root) if root.join(BACKUP_MARKER).exists() => {
                return Err(Error::Storage(StorageError::Corrupted {
                    path: root.join(BACKUP_MARKER),
                    reason: "a backup that did not finish: delete this directory and back up again".into(),
                }));
            }
            Some(root) if options.read_only => {
                // A reader takes no lock: the writer never rewrites a file in place that a
                // reader maps (chunks only grow, segments are written whole under new names).
                let dir = root.join("collections");
                if !dir.is_dir() {
                    return Err(Error::NotFound(format!("{} holds no database to open read-only", root.display())));
                }
                for (name, path) in collection_dirs(&dir)? {
                    collections.insert(name, Collection::open_read_only(path, options.clone())?.shared());
                }
                None
            }
            Some(root) => {
                fsutil::create_dir_all(root)?;
                let lock = DirLock::acquire(root)?;
                let dir = root.join("collections");
                fsutil::create_dir_all(&dir)?;
                for entry in fsutil::list_dir(&dir)? {
                    if entry.file_name().to_string_lossy().starts_with('.') {
                        // An interrupted create or drop.
                        let _ = fs::remove_dir_all(entry.path());
                    }
                }
                for (name, path) in collection_dirs(&dir)? {
                    collections.insert(name, Collection::open(path, options.clone())?.shared());
                }
                Some(lock)
            }
        };
        Ok(Database {
            root: root.map(Path::to_path_buf),
            options,
            lock: Mutex::new(lock),
            collections: RwLock::new(collections),
            creating: Mutex::new(BTreeSet::new()),
            closed: AtomicBool::new(false),
        })
    }

    /// Fails with `ERR_READ_ONLY` on a read-only handle.
    fn check_writable(&self) -> Result<()> {
        if self.options.read_only {
            return Err(Error::ReadOnly(
                "the database was opened read-only; create and drop collections in the writer".into(),
            ));
        }
        Ok(())
    }

    /// Read-only handles: picks up what the writer made durable since the last refresh (new
    /// WAL records, new checkpoints, collections created and dropped). A no-op for writers.
    pub fn refresh(&self) -> Result<()> {
        self.check_open()?;
        let Some(root) = self.root.as_ref().filter(|_| self.options.read_only) else { return Ok(()) };
        let on_disk = collection_dirs(&root.join("collections"))?;
        let known: Vec<(String, Arc<Collection>)> =
            self.collections.read().iter().map(|(n, c)| (n.clone(), c.clone())).collect();
        for (name, c) in &known {
            if !on_disk.iter().any(|(n, _)| n == name) {
                self.collections.write().remove(name);
                c.close(true)?;
            }
        }
        for (name, path) in on_disk {
            match known.iter().find(|(n, _)| *n == name) {
                Some((_, c)) => c.refresh()?,
                None => {
                    let c = Collection::open_read_only(path, self.options.clone())?.shared();
                    self.collections.write().insert(name, c);
                }
            }
        }
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed("the database is closed; open it again to use it".into()))
        } else {
            Ok(())
        }
    }

    /// Whether the database lives in memory only.
    pub fn is_in_memory(&self) -> bool {
        self.root.is_none()
    }

    fn collection_dir(&self, name: &str) -> Option<PathBuf> {
        self.root.as_ref().map(|r| r.join("collections").join(name))
    }

    /// Creates a collection; fails with `ERR_ALREADY_EXISTS` if the name is taken.
    pub fn create_collection(&self, name: &str, config: CollectionConfig) -> Result<Arc<Collection>> {
        validate_collection_name(name)?;
        self.check_open()?;
        self.check_writable()?;
        if self.root.is_none() && config.mmap != crate::config::MmapMode::Auto {
            return Err(Error::invalid(format!(
                "storage.mmap {} is not available in an in-memory database: its vectors live in anonymous memory, \
                 there are no files to map; leave it out (or 'auto')",
                config.mmap.as_str()
            )));
        }
        {
            // Lock order: `creating`, then `collections`.
            let mut creating = self.creating.lock();
            if creating.contains(name) || self.collections.read().contains_key(name) {
                return Err(Error::AlreadyExists(format!("collection '{name}' already exists")));
            }
            creating.insert(name.to_owned());
        }
        let created =
            Collection::create(name, self.collection_dir(name), config, self.options.clone()).map(Collection::shared);
        let mut creating = self.creating.lock();
        creating.remove(name);
        let c = created?;
        let mut map = self.collections.write();
        if self.closed.load(Ordering::Acquire) {
            // Closed while the files were being written (`close` sets the flag before it
            // takes the map): close this one like the rest.
            let _ = c.close(false);
            return Err(Error::Closed("the database was closed during createCollection".into()));
        }
        map.insert(name.to_owned(), c.clone());
        Ok(c)
    }

    /// The collection named `name`; `ERR_NOT_FOUND` if there is none.
    pub fn collection(&self, name: &str) -> Result<Arc<Collection>> {
        self.check_open()?;
        self.collections
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("collection '{name}' does not exist")))
    }

    /// Names of all collections, sorted.
    pub fn list_collections(&self) -> Result<Vec<String>> {
        self.check_open()?;
        Ok(self.collections.read().keys().cloned().collect())
    }

    /// [`Collection::verify`] for every collection, by name.
    pub fn verify(&self) -> Result<Vec<(String, VerifyReport)>> {
        self.check_open()?;
        let collections: Vec<_> = self.collections.read().iter().map(|(n, c)| (n.clone(), c.clone())).collect();
        collections.into_iter().map(|(name, c)| Ok((name, c.verify()?))).collect()
    }

    /// What every collection holds, by structure (measured now, resident pages included), and
    /// the limit. The database's account is brought up to date on the way.
    pub fn memory_usage(&self) -> Result<MemoryUsage> {
        self.check_open()?;
        let collections: Vec<_> = self.collections.read().iter().map(|(n, c)| (n.clone(), c.clone())).collect();
        let mut parts = Vec::with_capacity(collections.len());
        for (name, c) in collections {
            match c.memory() {
                Ok(p) => parts.push((name, p)),
                Err(_) => continue, // dropped or closed meanwhile
            }
        }
        let m = &self.options.memory;
        Ok(MemoryUsage {
            total: parts.iter().map(|(_, p)| p.held()).sum(),
            limit: m.limit(),
            pressure: m.pressure(),
            under_pressure: m.under_pressure(),
            pressure_events: m.crossings(),
            collections: parts,
        })
    }

    /// Sets (or with `None` removes) the database's memory limit. Raising it lets refused
    /// writes go through again; lowering it below what is held refuses writes that add memory
    /// until enough is freed.
    pub fn set_memory_limit(&self, limit: Option<u64>) -> Result<()> {
        self.check_open()?;
        self.options.memory.set_limit(limit)?;
        if self.options.memory.under_pressure() {
            self.relieve_memory();
        }
        Ok(())
    }

    /// Whether the held memory crossed the pressure threshold since the last call (the host
    /// raises its `memoryPressure` event once per crossing).
    pub fn take_pressure_crossing(&self) -> bool {
        self.options.memory.take_crossing()
    }

    /// Gives back what every collection can: text caches and resident pages of mapped files.
    pub fn relieve_memory(&self) {
        let collections: Vec<_> = self.collections.read().values().cloned().collect();
        for c in collections {
            c.relieve_memory();
        }
    }

    /// Deletes a collection and its files; handles to it fail with `ERR_NOT_FOUND` afterwards.
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        self.check_open()?;
        self.check_writable()?;
        let c = self
            .collections
            .write()
            .remove(name)
            .ok_or_else(|| Error::NotFound(format!("collection '{name}' does not exist")))?;
        c.close(true)?;
        if let Some(dir) = self.collection_dir(name) {
            // Rename first so that a crash mid-delete leaves a '.'-prefixed leftover that the
            // next open removes, never a half-deleted collection.
            let trash = dir.with_file_name(format!(".dropped-{name}"));
            let _ = fs::remove_dir_all(&trash);
            fs::rename(&dir, &trash).at(&dir)?;
            let _ = fs::remove_dir_all(&trash);
        }
        Ok(())
    }

    /// Writes a consistent copy of the database into `dest` (which must not exist or be
    /// empty) while reads and writes go on: each collection as of a checkpoint fence plus the
    /// WAL up to the end of its copy (see `collection/backup.rs`), checkpoint files hard-linked
    /// where the file system allows. `done` counts bytes written. On error or cancellation
    /// nothing is left in `dest`; a crash leaves a directory that refuses to open.
    /// A read-only handle copies the writer's last checkpoint and its WAL as they stand.
    pub fn backup(&self, dest: &Path, done: &AtomicU64, cancel: &Cancel) -> Result<BackupReport> {
        self.check_open()?;
        let Some(root) = &self.root else {
            return Err(Error::invalid("an in-memory database has no files to back up; export its collections"));
        };
        let existed = dest.exists();
        if existed && !fsutil::list_dir(dest)?.is_empty() {
            return Err(Error::invalid(format!(
                "backup target {} is not empty; give a new or empty directory",
                dest.display()
            )));
        }
        // Where `dest` will be (it may not exist yet): its parent resolved, then its name.
        let resolved = dest.parent().and_then(|p| p.canonicalize().ok()).zip(dest.file_name()).map(|(p, n)| p.join(n));
        if resolved.zip(root.canonicalize().ok()).is_some_and(|(d, r)| d.starts_with(&r)) {
            return Err(Error::invalid("a backup cannot go inside the database it copies"));
        }
        fsutil::create_dir_all(dest)?;
        let written = (|| {
            fs::write(dest.join(BACKUP_MARKER), b"").at(dest)?;
            fsutil::sync_dir(dest)?;
            let into = dest.join("collections");
            fsutil::create_dir_all(&into)?;
            let collections: Vec<_> = self.collections.read().iter().map(|(n, c)| (n.clone(), c.clone())).collect();
            let mut report = BackupReport::default();
            for (name, c) in collections {
                cancel.check()?;
                match c.backup_into(&into.join(&name), done, cancel) {
                    Ok(()) => report.collections.push(name),
                    // Dropped meanwhile: not in the backup.
                    Err(Error::NotFound(_)) => {
                        let _ = fs::remove_dir_all(into.join(&name));
                    }
                    Err(e) => return Err(e),
                }
            }
            fsutil::sync_dir(&into)?;
            fs::remove_file(dest.join(BACKUP_MARKER)).at(dest)?;
            fsutil::sync_dir(dest)?;
            report.bytes = done.load(Ordering::Relaxed);
            Ok(report)
        })();
        if written.is_err() {
            if existed {
                for entry in fsutil::list_dir(dest).unwrap_or_default() {
                    let _ = fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
                }
            } else {
                let _ = fs::remove_dir_all(dest);
            }
        }
        written
    }

    /// Checkpoints every collection, releases files and the directory lock. Idempotent.
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let collections: Vec<_> = std::mem::take(&mut *self.collections.write()).into_values().collect();
        let mut first_error = None;
        for c in collections {
            if let Err(e) = c.close(false) {
                first_error.get_or_insert(e);
            }
        }
        self.lock.lock().take();
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The collection directories under `dir` (names not starting with '.'), sorted.
fn collection_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fsutil::list_dir(dir)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}
