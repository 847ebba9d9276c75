//! The disk spool: encoded OTLP batches that could not be delivered, kept
//! as one file each so a later process can send them.
//!
//! A spool is a directory. Each batch is one file, written atomically
//! (temp file, fsync, rename, fsync of the directory), named so that the
//! name order is the creation order:
//!
//! - `<created-ns>-<pid>-<seq>.batch`: ready to be replayed;
//! - `<created-ns>-<pid>-<seq>.tmp`: being written (or left by a crash);
//! - `<created-ns>-<pid>-<seq>.claim-<pid>-<claimed-ms>`: being replayed by
//!   the process `<pid>` since `<claimed-ms>` (Unix milliseconds).
//!
//! A file starts with a fixed header (magic, format version, signal, wire
//! format, record count, creation time, payload length, CRC-32 of header
//! and payload), so a truncated or damaged file is recognised and never
//! sent. A file is claimed by renaming it: rename is atomic, so of two
//! processes that claim the same file one wins and the other sees it gone.
//! A claim is released by renaming it back; a claim older than
//! [`SpoolOptions::stale_after`] belongs to a process that died (or hangs)
//! and is released by the next process that opens the spool: that is the
//! one case where a batch can be sent twice (see [`Spool`]).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::otlp::{Signal, WireFormat};

/// Default [`SpoolOptions::max_bytes`]: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Default [`SpoolOptions::max_age`]: one week.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Default [`SpoolOptions::stale_after`]: ten minutes, far longer than a
/// file write or one batch's retry budget.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(600);

/// Bytes of the header in front of every spooled payload.
pub const HEADER_BYTES: usize = 36;

const MAGIC: &[u8; 4] = b"AOSP";
const FORMAT_VERSION: u8 = 1;
const READY: &str = "batch";
const TEMP: &str = "tmp";
const CLAIM: &str = "claim-";

/// The header's code of a signal.
fn signal_code(signal: Signal) -> u8 {
    match signal {
        Signal::Logs => 0,
        Signal::Metrics => 1,
        Signal::Traces => 2,
    }
}

fn signal_from_code(code: u8) -> Option<Signal> {
    Signal::ALL.into_iter().find(|s| signal_code(*s) == code)
}

/// The place of `signal` in [`Signal::ALL`].
fn signal_index(signal: Signal) -> usize {
    Signal::ALL
        .iter()
        .position(|s| *s == signal)
        .unwrap_or_default()
}

fn format_code(format: WireFormat) -> u8 {
    match format {
        WireFormat::Protobuf => 0,
        WireFormat::Json => 1,
    }
}

fn format_from_code(code: u8) -> Option<WireFormat> {
    match code {
        0 => Some(WireFormat::Protobuf),
        1 => Some(WireFormat::Json),
        _ => None,
    }
}

/// Where the spool lives and how large and old it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolOptions {
    /// The spool directory (created when missing).
    pub dir: PathBuf,
    /// Total size of the spooled files at most; the oldest files are
    /// evicted (and counted) to make room.
    pub max_bytes: u64,
    /// Files older than this are evicted (and counted).
    pub max_age: Duration,
    /// A temp file untouched for this long was left by a crashed writer and
    /// is removed; a claim this old was left by a crashed (or hung)
    /// replayer and is released.
    pub stale_after: Duration,
}

impl SpoolOptions {
    /// A spool in `dir` with the default bounds.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            max_age: DEFAULT_MAX_AGE,
            stale_after: DEFAULT_STALE_AFTER,
        }
    }
}

/// A spool operation failed. Never fatal to the host: the pipeline counts
/// it and drops what it could not spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The disk (or a quota) is full.
    #[error("spool {}: no space left ({op}): {source}", path.display())]
    Full {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The io error.
        source: io::Error,
    },
    /// The directory is read-only or not writable by this user.
    #[error("spool {}: not writable ({op}): {source}", path.display())]
    NotWritable {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The io error.
        source: io::Error,
    },
    /// Any other io failure.
    #[error("spool {}: cannot {op}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The io error.
        source: io::Error,
    },
    /// A file is truncated or damaged (it is never sent).
    #[error("spool file {} is damaged: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// One batch is larger than the whole spool may be.
    #[error("a batch of {bytes} bytes does not fit a spool of max_bytes {max_bytes}")]
    TooLarge {
        /// Size of the file the batch needs.
        bytes: u64,
        /// The spool's bound.
        max_bytes: u64,
    },
}

impl SpoolError {
    fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                Self::Full { op, path, source }
            }
            io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied => {
                Self::NotWritable { op, path, source }
            }
            _ => Self::Io { op, path, source },
        }
    }
}

/// What the fixed header of a spooled file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolHeader {
    /// The signal of the batch.
    pub signal: Signal,
    /// The encoding of the payload.
    pub format: WireFormat,
    /// Records in the batch.
    pub records: u64,
    /// When the batch was spooled.
    pub created: SystemTime,
    /// Length of the payload after the header.
    pub payload_len: u64,
}

impl SpoolHeader {
    fn encode(&self, payload: &[&[u8]]) -> [u8; HEADER_BYTES] {
        let mut header = [0u8; HEADER_BYTES];
        header[..4].copy_from_slice(MAGIC);
        header[4] = FORMAT_VERSION;
        header[5] = signal_code(self.signal);
        header[6] = format_code(self.format);
        header[8..16].copy_from_slice(&self.records.to_le_bytes());
        header[16..24].copy_from_slice(&unix_nanos(self.created).to_le_bytes());
        header[24..32].copy_from_slice(&self.payload_len.to_le_bytes());
        let crc = checksum(&header[..32], payload);
        header[32..36].copy_from_slice(&crc.to_le_bytes());
        header
    }

    /// Parses a header; `None` when it is not one this version wrote.
    fn decode(header: &[u8; HEADER_BYTES]) -> Option<Self> {
        if &header[..4] != MAGIC || header[4] != FORMAT_VERSION {
            return None;
        }
        let u64_at = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&header[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        Some(Self {
            signal: signal_from_code(header[5])?,
            format: format_from_code(header[6])?,
            records: u64_at(8),
            created: UNIX_EPOCH + Duration::from_nanos(u64_at(16)),
            payload_len: u64_at(24),
        })
    }

    /// Size of the whole file.
    pub fn file_bytes(&self) -> u64 {
        self.payload_len.saturating_add(HEADER_BYTES as u64)
    }
}

fn checksum(header: &[u8], payload: &[&[u8]]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(header);
    for part in payload {
        crc.update(part);
    }
    crc.finalize()
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One spooled batch waiting to be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolEntry {
    /// The ready file.
    pub path: PathBuf,
    /// Its header.
    pub header: SpoolHeader,
}

/// Records and files removed from the spool without being delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Files removed.
    pub files: u64,
    /// Records they held.
    pub records: u64,
}

impl Evicted {
    fn add(&mut self, header: &SpoolHeader) {
        self.files += 1;
        self.records += header.records;
    }
}

/// What opening a spool cleaned up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Half-written files of crashed writers that were removed.
    pub stale_temp_files: u64,
    /// Claims of crashed (or hung) replayers released for replay.
    pub stale_claims: u64,
    /// Files evicted by `max_age`/`max_bytes`, or removed as damaged.
    pub evicted: Evicted,
}

/// Waiting batches of one signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalStatus {
    /// Files.
    pub files: u64,
    /// Records in them.
    pub records: u64,
    /// Bytes on disk.
    pub bytes: u64,
}

/// What a spool holds, for `agent-otel spool status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpoolStatus {
    /// Ready files per signal (in [`Signal::ALL`] order).
    pub signals: [SignalStatus; 3],
    /// Creation time of the oldest ready file.
    pub oldest: Option<SystemTime>,
    /// Files being replayed by some process right now.
    pub claimed: u64,
    /// Files being written right now (or left by a crash).
    pub temp: u64,
    /// Files with a damaged header (removed when the spool is next opened
    /// for delivery).
    pub damaged: u64,
}

impl SpoolStatus {
    /// Ready files, records and bytes over every signal.
    pub fn total(&self) -> SignalStatus {
        self.signals
            .iter()
            .fold(SignalStatus::default(), |sum, s| SignalStatus {
                files: sum.files + s.files,
                records: sum.records + s.records,
                bytes: sum.bytes + s.bytes,
            })
    }

    /// Waiting batches of `signal`.
    pub fn signal(&self, signal: Signal) -> SignalStatus {
        self.signals[signal_index(signal)]
    }
}

/// The kinds of file in a spool directory, told apart by name.
enum FileKind {
    Ready,
    Temp,
    /// Claimed at this Unix millisecond.
    Claim {
        at_ms: u64,
    },
}

/// The kind of a spool file and its stem (`<created-ns>-<pid>-<seq>`);
/// `None` for files the spool did not write.
fn classify(name: &str) -> Option<(&str, FileKind)> {
    let (stem, ext) = name.split_once('.')?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    let kind = match ext {
        READY => FileKind::Ready,
        TEMP => FileKind::Temp,
        _ => {
            let owner = ext.strip_prefix(CLAIM)?;
            let (_pid, at_ms) = owner.split_once('-')?;
            FileKind::Claim {
                at_ms: at_ms.parse().ok()?,
            }
        }
    };
    Some((stem, kind))
}

/// A spool directory. Share one per process (`Arc`); several processes
/// may open the same directory at once.
///
/// Delivery from a spool is at-least-once. A batch is sent twice when the
/// collector accepted it but its answer was lost (timeout, connection cut):
/// the file is released and sent again later; or when a replaying process
/// hung longer than [`SpoolOptions::stale_after`] with a claim, another
/// process released it, and both sent it. Two processes never send the
/// same file because of a race: each file is claimed by one rename.
#[derive(Debug)]
pub struct Spool {
    options: SpoolOptions,
    pid: u32,
    next: AtomicU64,
}

impl Spool {
    /// Opens (creating when missing) the spool directory and tidies it:
    /// removes stale temp files, releases stale claims, removes damaged
    /// files and applies the bounds.
    pub fn open(options: SpoolOptions) -> Result<(Self, OpenReport), SpoolError> {
        create_dir(&options.dir)
            .map_err(|e| SpoolError::io("create the directory", &options.dir, e))?;
        let spool = Self::inspect(options);
        let report = spool.tidy()?;
        Ok((spool, report))
    }

    /// A spool on `options.dir` without touching the disk (for `status`,
    /// which must change nothing).
    pub fn inspect(options: SpoolOptions) -> Self {
        Self {
            options,
            pid: std::process::id(),
            next: AtomicU64::new(0),
        }
    }

    /// The spool's settings.
    pub fn options(&self) -> &SpoolOptions {
        &self.options
    }

    /// Removes stale temp files, releases stale claims, removes damaged
    /// ready files and evicts by age and size.
    pub fn tidy(&self) -> Result<OpenReport, SpoolError> {
        let mut report = OpenReport::default();
        let now = SystemTime::now();
        let now_ms = unix_millis(now);
        let stale_ms = u64::try_from(self.options.stale_after.as_millis()).unwrap_or(u64::MAX);
        for (name, kind) in self.names()? {
            let path = self.options.dir.join(&name);
            match kind {
                FileKind::Temp => {
                    let idle = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|modified| now.duration_since(modified).ok());
                    if idle.is_some_and(|idle| idle >= self.options.stale_after)
                        && fs::remove_file(&path).is_ok()
                    {
                        report.stale_temp_files += 1;
                    }
                }
                FileKind::Claim { at_ms } => {
                    if now_ms.saturating_sub(at_ms) >= stale_ms {
                        let stem = classify(&name).map_or("", |(stem, _)| stem);
                        let ready = self.options.dir.join(format!("{stem}.{READY}"));
                        if fs::rename(&path, &ready).is_ok() {
                            report.stale_claims += 1;
                        }
                    }
                }
                FileKind::Ready => {}
            }
        }
        report.evicted = self.evict(0)?;
        Ok(report)
    }

    /// Names of the spool's own files, sorted (oldest first).
    fn names(&self) -> Result<Vec<(String, FileKind)>, SpoolError> {
        let dir = &self.options.dir;
        let read = fs::read_dir(dir).map_err(|e| SpoolError::io("list the directory", dir, e))?;
        let mut names = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| SpoolError::io("list the directory", dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if let Some((_, kind)) = classify(&name) {
                names.push((name, kind));
            }
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(names)
    }

    /// Ready files, oldest first, with their headers. Files whose header
    /// cannot be read are left out (see [`SpoolStatus::damaged`]).
    pub fn list(&self) -> Result<Vec<SpoolEntry>, SpoolError> {
        Ok(self.scan()?.ready)
    }

    fn scan(&self) -> Result<Scan, SpoolError> {
        let mut scan = Scan::default();
        for (name, kind) in self.names()? {
            let path = self.options.dir.join(&name);
            match kind {
                FileKind::Ready => match read_header(&path) {
                    Ok(header) => scan.ready.push(SpoolEntry { path, header }),
                    // Claimed or removed by another process meanwhile.
                    Err(SpoolError::Io { ref source, .. })
                        if source.kind() == io::ErrorKind::NotFound => {}
                    Err(_) => scan.damaged.push(path),
                },
                FileKind::Claim { .. } => {
                    scan.claimed += 1;
                    scan.claimed_bytes += fs::metadata(&path).map_or(0, |m| m.len());
                }
                FileKind::Temp => scan.temp += 1,
            }
        }
        Ok(scan)
    }

    /// What is waiting, per signal.
    pub fn status(&self) -> Result<SpoolStatus, SpoolError> {
        let scan = self.scan()?;
        let mut status = SpoolStatus {
            claimed: scan.claimed,
            temp: scan.temp,
            damaged: scan.damaged.len() as u64,
            ..SpoolStatus::default()
        };
        for entry in &scan.ready {
            let slot = &mut status.signals[signal_index(entry.header.signal)];
            slot.files += 1;
            slot.records += entry.header.records;
            slot.bytes += entry.header.file_bytes();
            let created = entry.header.created;
            status.oldest = Some(status.oldest.map_or(created, |o| o.min(created)));
        }
        Ok(status)
    }

    /// Removes every ready file (claims of running processes are left);
    /// returns what was removed.
    pub fn clear(&self) -> Result<Evicted, SpoolError> {
        let scan = self.scan()?;
        let mut removed = Evicted::default();
        for entry in &scan.ready {
            if remove(&entry.path)? {
                removed.add(&entry.header);
            }
        }
        for path in &scan.damaged {
            if remove(path)? {
                removed.files += 1;
            }
        }
        Ok(removed)
    }

    /// Evicts damaged files, files older than `max_age`, then the oldest
    /// files until `incoming` more bytes fit under `max_bytes`.
    fn evict(&self, incoming: u64) -> Result<Evicted, SpoolError> {
        let scan = self.scan()?;
        let mut evicted = Evicted::default();
        for path in &scan.damaged {
            if remove(path)? {
                evicted.files += 1;
            }
        }
        let now = SystemTime::now();
        let mut total = scan.claimed_bytes
            + scan
                .ready
                .iter()
                .map(|e| e.header.file_bytes())
                .sum::<u64>();
        for entry in &scan.ready {
            let expired = now
                .duration_since(entry.header.created)
                .is_ok_and(|age| age > self.options.max_age);
            if !expired && total.saturating_add(incoming) <= self.options.max_bytes {
                continue;
            }
            if remove(&entry.path)? {
                evicted.add(&entry.header);
            }
            total = total.saturating_sub(entry.header.file_bytes());
        }
        Ok(evicted)
    }

    /// Writes one encoded batch atomically, evicting the oldest files first
    /// when it would not fit under `max_bytes`. Returns what was evicted.
    pub fn store(
        &self,
        signal: Signal,
        format: WireFormat,
        records: u64,
        payload: &[u8],
    ) -> Result<Evicted, SpoolError> {
        self.store_parts(signal, format, records, &[payload])
    }

    /// Like [`Spool::store`] for a payload given in parts, written one
    /// after the other (concatenated OTLP protobuf requests are one request
    /// holding all their records, so several batches can share one file).
    pub fn store_parts(
        &self,
        signal: Signal,
        format: WireFormat,
        records: u64,
        parts: &[&[u8]],
    ) -> Result<Evicted, SpoolError> {
        let header = SpoolHeader {
            signal,
            format,
            records,
            created: SystemTime::now(),
            payload_len: parts.iter().map(|p| p.len() as u64).sum(),
        };
        let bytes = header.file_bytes();
        if bytes > self.options.max_bytes {
            return Err(SpoolError::TooLarge {
                bytes,
                max_bytes: self.options.max_bytes,
            });
        }
        let evicted = self.evict(bytes)?;
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let stem = format!("{:020}-{}-{seq:08}", unix_nanos(header.created), self.pid);
        let temp = self.options.dir.join(format!("{stem}.{TEMP}"));
        let ready = self.options.dir.join(format!("{stem}.{READY}"));
        if let Err(error) = write_file(&temp, &header.encode(parts), parts) {
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
        if let Err(e) = fs::rename(&temp, &ready) {
            let _ = fs::remove_file(&temp);
            return Err(SpoolError::io("rename the written file", &ready, e));
        }
        sync_dir(&self.options.dir)?;
        Ok(evicted)
    }

    /// Claims a ready file for replay; `None` when another process claimed
    /// (or removed) it first. The claim is released when dropped.
    pub fn claim(&self, entry: &SpoolEntry) -> Result<Option<Claim>, SpoolError> {
        let Some(name) = entry.path.file_name().and_then(|n| n.to_str()) else {
            return Ok(None);
        };
        let Some((stem, FileKind::Ready)) = classify(name) else {
            return Ok(None);
        };
        let claimed = self.options.dir.join(format!(
            "{stem}.{CLAIM}{}-{}",
            self.pid,
            unix_millis(SystemTime::now())
        ));
        match fs::rename(&entry.path, &claimed) {
            Ok(()) => Ok(Some(Claim {
                claimed,
                ready: entry.path.clone(),
                header: entry.header,
                settled: false,
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SpoolError::io("claim", &entry.path, e)),
        }
    }
}

#[derive(Default)]
struct Scan {
    ready: Vec<SpoolEntry>,
    damaged: Vec<PathBuf>,
    claimed: u64,
    claimed_bytes: u64,
    temp: u64,
}

/// Removes a file; false when it was already gone (another process took it).
fn remove(path: &Path) -> Result<bool, SpoolError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(SpoolError::io("remove", path, e)),
    }
}

fn read_header(path: &Path) -> Result<SpoolHeader, SpoolError> {
    let mut file = File::open(path).map_err(|e| SpoolError::io("open", path, e))?;
    let mut header = [0u8; HEADER_BYTES];
    match file.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(SpoolError::Corrupt {
                path: path.to_path_buf(),
                reason: "shorter than its header",
            });
        }
        Err(e) => return Err(SpoolError::io("read", path, e)),
    }
    SpoolHeader::decode(&header).ok_or_else(|| SpoolError::Corrupt {
        path: path.to_path_buf(),
        reason: "not a spool file of this version",
    })
}

fn write_file(path: &Path, header: &[u8], parts: &[&[u8]]) -> Result<(), SpoolError> {
    let mut options = File::options();
    options.write(true).create_new(true);
    // Spooled telemetry is the user's business only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| SpoolError::io("create a file", path, e))?;
    file.write_all(header)
        .and_then(|()| parts.iter().try_for_each(|part| file.write_all(part)))
        .map_err(|e| SpoolError::io("write", path, e))?;
    file.sync_all()
        .map_err(|e| SpoolError::io("fsync", path, e))
}

/// Creates the spool directory (and its parents), readable by its owner
/// only where permissions exist.
fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes a rename in `dir` durable (no-op where directories cannot be
/// opened, e.g. Windows).
fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| SpoolError::io("fsync the directory", dir, e))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// A spooled file this process is replaying. Settle it with
/// [`Claim::delete`] (accepted or permanently refused) or
/// [`Claim::release`] (retry later); dropping it releases it.
#[derive(Debug)]
pub struct Claim {
    claimed: PathBuf,
    ready: PathBuf,
    header: SpoolHeader,
    settled: bool,
}

impl Claim {
    /// The file's header.
    pub fn header(&self) -> &SpoolHeader {
        &self.header
    }

    /// Reads the payload, checking its length and checksum.
    pub fn read(&self) -> Result<Bytes, SpoolError> {
        let path = &self.claimed;
        let data = fs::read(path).map_err(|e| SpoolError::io("read", path, e))?;
        let expected = usize::try_from(self.header.file_bytes()).unwrap_or(usize::MAX);
        if data.len() != expected {
            return Err(SpoolError::Corrupt {
                path: path.clone(),
                reason: "its length does not match its header",
            });
        }
        let (header, payload) = data.split_at(HEADER_BYTES);
        let mut stored = [0u8; 4];
        stored.copy_from_slice(&header[32..36]);
        if checksum(&header[..32], &[payload]) != u32::from_le_bytes(stored) {
            return Err(SpoolError::Corrupt {
                path: path.clone(),
                reason: "checksum mismatch",
            });
        }
        let mut data = Bytes::from(data);
        Ok(data.split_off(HEADER_BYTES))
    }

    /// Removes the file: its batch was delivered, refused for good, or is
    /// damaged.
    pub fn delete(mut self) -> Result<(), SpoolError> {
        self.settled = true;
        remove(&self.claimed).map(|_| ())
    }

    /// Puts the file back for a later replay.
    pub fn release(mut self) -> Result<(), SpoolError> {
        self.settled = true;
        fs::rename(&self.claimed, &self.ready)
            .map_err(|e| SpoolError::io("release", &self.ready, e))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.settled {
            let _ = fs::rename(&self.claimed, &self.ready);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "agent-otel-spool-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn open(dir: &Path) -> Spool {
        Spool::open(SpoolOptions::new(dir)).expect("open").0
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_stored_batch_reads_back_with_its_header() {
        let dir = temp_dir("roundtrip");
        let spool = open(&dir);
        spool
            .store(Signal::Logs, WireFormat::Json, 3, b"{\"a\":1}")
            .expect("store");
        spool
            .store(Signal::Traces, WireFormat::Protobuf, 5, &[1, 2, 3])
            .expect("store");
        let entries = spool.list().expect("list");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].header.signal, Signal::Logs, "oldest first");
        assert_eq!(entries[0].header.format, WireFormat::Json);
        assert_eq!(entries[0].header.records, 3);
        assert_eq!(entries[1].header.signal, Signal::Traces);
        let claim = spool.claim(&entries[0]).expect("claim").expect("free");
        assert_eq!(&claim.read().expect("read")[..], b"{\"a\":1}");
        claim.delete().expect("delete");
        let status = spool.status().expect("status");
        assert_eq!(status.total().files, 1);
        assert_eq!(status.signal(Signal::Traces).records, 5);
        assert_eq!(status.signal(Signal::Traces).bytes, HEADER_BYTES as u64 + 3);
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_file_is_claimed_once_and_a_dropped_claim_is_released() {
        let dir = temp_dir("claim");
        let first = open(&dir);
        let second = open(&dir);
        first
            .store(Signal::Logs, WireFormat::Protobuf, 1, b"x")
            .expect("store");
        let entry = first.list().expect("list").remove(0);
        let claim = first.claim(&entry).expect("claim").expect("free");
        assert!(second.claim(&entry).expect("claim").is_none());
        assert!(
            second.list().expect("list").is_empty(),
            "claimed files are not listed"
        );
        assert_eq!(second.status().expect("status").claimed, 1);
        drop(claim);
        let entry = second.list().expect("list").remove(0);
        let claim = second.claim(&entry).expect("claim").expect("released");
        claim.release().expect("release");
        assert_eq!(first.list().expect("list").len(), 1);
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn truncated_and_damaged_files_are_never_read_and_are_removed() {
        let dir = temp_dir("damaged");
        let spool = open(&dir);
        spool
            .store(Signal::Logs, WireFormat::Protobuf, 2, b"payload")
            .expect("store");
        let entry = spool.list().expect("list").remove(0);
        // Flip a payload byte: length right, checksum wrong.
        let mut data = fs::read(&entry.path).expect("read");
        let last = data.len() - 1;
        data[last] ^= 0xff;
        fs::write(&entry.path, &data).expect("write");
        let claim = spool.claim(&entry).expect("claim").expect("free");
        assert!(matches!(claim.read(), Err(SpoolError::Corrupt { .. })));
        // Truncate: length wrong.
        drop(claim);
        fs::write(&entry.path, &data[..HEADER_BYTES + 2]).expect("truncate");
        let claim = spool.claim(&entry).expect("claim").expect("free");
        assert!(matches!(claim.read(), Err(SpoolError::Corrupt { .. })));
        drop(claim);
        // A header cut short is listed as damaged and removed on open.
        fs::write(&entry.path, &data[..10]).expect("cut header");
        assert!(spool.list().expect("list").is_empty());
        assert_eq!(spool.status().expect("status").damaged, 1);
        let (_, report) = Spool::open(SpoolOptions::new(&dir)).expect("open");
        assert_eq!(report.evicted.files, 1);
        assert_eq!(spool.status().expect("status").damaged, 0);
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn max_bytes_evicts_the_oldest_and_counts_them() {
        let dir = temp_dir("max-bytes");
        let file = HEADER_BYTES as u64 + 100;
        let spool = Spool::open(SpoolOptions {
            max_bytes: 3 * file,
            ..SpoolOptions::new(&dir)
        })
        .expect("open")
        .0;
        for records in 1..=3 {
            let evicted = spool
                .store(Signal::Logs, WireFormat::Protobuf, records, &[0; 100])
                .expect("store");
            assert_eq!(evicted, Evicted::default());
        }
        let evicted = spool
            .store(Signal::Logs, WireFormat::Protobuf, 4, &[0; 100])
            .expect("store");
        assert_eq!(
            evicted,
            Evicted {
                files: 1,
                records: 1
            },
            "the oldest file (1 record) went"
        );
        let records: Vec<u64> = spool
            .list()
            .expect("list")
            .iter()
            .map(|e| e.header.records)
            .collect();
        assert_eq!(records, [2, 3, 4]);
        let too_large = spool.store(Signal::Logs, WireFormat::Protobuf, 1, &[0; 400]);
        assert!(matches!(too_large, Err(SpoolError::TooLarge { .. })));
        assert_eq!(
            spool.list().expect("list").len(),
            3,
            "nothing evicted for it"
        );
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn files_older_than_max_age_are_evicted_on_open() {
        let dir = temp_dir("max-age");
        let spool = open(&dir);
        spool
            .store(Signal::Logs, WireFormat::Protobuf, 7, b"old")
            .expect("store");
        let (reopened, report) = Spool::open(SpoolOptions {
            max_age: Duration::ZERO,
            ..SpoolOptions::new(&dir)
        })
        .expect("open");
        assert_eq!(
            report.evicted,
            Evicted {
                files: 1,
                records: 7
            }
        );
        assert!(reopened.list().expect("list").is_empty());
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn stale_temp_files_and_claims_are_tidied_but_fresh_ones_kept() {
        let dir = temp_dir("stale");
        let spool = open(&dir);
        spool
            .store(Signal::Logs, WireFormat::Protobuf, 1, b"x")
            .expect("store");
        let entry = spool.list().expect("list").remove(0);
        let claim = spool.claim(&entry).expect("claim").expect("free");
        // A crashed process's claim: never released.
        std::mem::forget(claim);
        fs::write(dir.join("00000000000000000001-1-00000000.tmp"), b"half").expect("temp");
        fs::write(dir.join("notes.txt"), b"not ours").expect("foreign");
        let (_, report) = Spool::open(SpoolOptions::new(&dir)).expect("open");
        assert_eq!(
            report,
            OpenReport::default(),
            "a fresh claim or temp file may be live"
        );
        let (reopened, report) = Spool::open(SpoolOptions {
            stale_after: Duration::ZERO,
            ..SpoolOptions::new(&dir)
        })
        .expect("open");
        assert_eq!(report.stale_temp_files, 1);
        assert_eq!(report.stale_claims, 1);
        assert_eq!(reopened.list().expect("list").len(), 1);
        assert!(
            files(&dir).contains(&"notes.txt".to_owned()),
            "foreign files untouched"
        );
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn an_unwritable_spool_is_a_typed_error_and_leaves_nothing() {
        let dir = temp_dir("unwritable");
        let spool = open(&dir);
        // Works for root too (permissions would not stop it): the
        // directory is replaced by a plain file.
        fs::remove_dir_all(&dir).expect("remove dir");
        fs::write(&dir, b"not a directory").expect("file");
        let result = spool.store(Signal::Logs, WireFormat::Protobuf, 1, b"x");
        assert!(matches!(result, Err(SpoolError::Io { .. })), "{result:?}");
        assert!(Spool::open(SpoolOptions::new(&dir)).is_err());
        fs::remove_file(&dir).ok();
    }

    #[test]
    fn full_and_read_only_errors_are_told_apart() {
        let path = Path::new("/spool");
        let full = SpoolError::io("write", path, io::ErrorKind::StorageFull.into());
        assert!(matches!(full, SpoolError::Full { .. }));
        let read_only = SpoolError::io("write", path, io::ErrorKind::ReadOnlyFilesystem.into());
        assert!(matches!(read_only, SpoolError::NotWritable { .. }));
        let denied = SpoolError::io("write", path, io::ErrorKind::PermissionDenied.into());
        assert!(matches!(denied, SpoolError::NotWritable { .. }));
        assert!(full.to_string().contains("no space left"));
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_and_files_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let parent = temp_dir("private");
        let dir = parent.join("a").join("spool");
        let spool = open(&dir);
        spool
            .store(Signal::Logs, WireFormat::Protobuf, 1, b"x")
            .expect("store");
        let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let entry = spool.list().expect("list").remove(0);
        assert_eq!(mode(&entry.path), 0o600);
        fs::remove_dir_all(&parent).ok();
    }

    #[test]
    fn names_sort_in_creation_order() {
        let dir = temp_dir("order");
        let spool = open(&dir);
        for records in 0..20 {
            spool
                .store(Signal::Logs, WireFormat::Protobuf, records, b"x")
                .expect("store");
        }
        let records: Vec<u64> = spool
            .list()
            .expect("list")
            .iter()
            .map(|e| e.header.records)
            .collect();
        assert_eq!(records, (0..20).collect::<Vec<_>>());
        fs::remove_dir_all(&dir).ok();
    }
}
