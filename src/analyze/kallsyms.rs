//! Kernel symbols: `/proc/kallsyms` text in, `(address, name)` pairs out.
//!
//! The classifier names kernel stack frames through [`Trace::ksym`], which
//! needs this table sorted by address. Only text symbols (`t`, `T`, `W`,
//! `w`) are kept, module suffixes (`[ext4]`) are dropped, and zero addresses
//! are skipped: that is what a reader gets when `kptr_restrict` hides them, and
//! a table of zeros would name every frame wrongly.
//!
//! Reading `/proc/kallsyms` costs about 40 ms of kernel CPU on this kind of
//! machine (the kernel formats every symbol), and parsing it about 20 ms
//! more. The symbols do not change while the kernel runs, apart from module
//! loads, so [`load_cached`] keeps the parsed table in a cache file keyed by
//! the boot id and the list of loaded modules, and the table is read before
//! the target is let go ([`preload`]): the target never competes with it.
//!
//! [`Trace::ksym`]: crate::model::trace::Trace::ksym

use std::io::Write;
use std::path::{Path, PathBuf};

/// Parse kallsyms text into text symbols sorted by address.
pub fn parse(text: &str) -> Vec<(u64, String)> {
    let mut syms: Vec<(u64, String)> = text.lines().filter_map(parse_line).collect();
    syms.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    syms
}

/// One `ADDR TYPE NAME [MODULE]` line, when it is a non-zero text symbol.
fn parse_line(line: &str) -> Option<(u64, String)> {
    let mut it = line.split_whitespace();
    let addr = u64::from_str_radix(it.next()?, 16).ok()?;
    let kind = it.next()?;
    let name = it.next()?;
    let text = matches!(kind, "t" | "T" | "W" | "w");
    (text && addr != 0).then(|| (addr, name.to_string()))
}

/// Read `/proc/kallsyms`; empty when unreadable or when addresses are hidden.
pub fn load() -> Vec<(u64, String)> {
    std::fs::read_to_string("/proc/kallsyms")
        .map(|t| parse(&t))
        .unwrap_or_default()
}

/// The kernel symbols being read on a thread of their own ([`load_cached`]),
/// so that the reading overlaps wallprof's other start-up work.
pub struct Preload(Option<std::thread::JoinHandle<Vec<(u64, String)>>>);

/// Start reading the kernel symbols ([`load_cached`]) on a new thread.
pub fn preload() -> Preload {
    Preload(
        std::thread::Builder::new()
            .name("wallprof-ksyms".into())
            .spawn(|| load_cached(cache_path().as_deref()))
            .ok(),
    )
}

/// Whether `/proc/kallsyms` shows zero addresses (or cannot be read): then
/// there is nothing to load, and the first lines tell it without the cost of
/// formatting the whole table.
fn hidden() -> bool {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open("/proc/kallsyms")
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    text.lines()
        .next()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|a| u64::from_str_radix(a, 16).ok())
        .is_none_or(|a| a == 0)
}

/// What the cached table must match: the boot (kernel image and its
/// randomized base) and the loaded modules (their symbols are in the table).
pub fn current_key() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let modules = std::fs::read("/proc/modules").unwrap_or_default();
    Some(format!("{} {:016x}", boot.trim(), fnv1a(&modules)))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The cache file: `$XDG_CACHE_HOME/wallprof/kallsyms`, else
/// `$HOME/.cache/wallprof/kallsyms`; `None` without either.
pub fn cache_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("wallprof").join("kallsyms"))
}

/// The kernel symbols, from the cache at `path` when it was written in this
/// boot with the same modules loaded, else from `/proc/kallsyms` (and then
/// written to the cache, when the addresses are visible; failures to write
/// are ignored: the cache only saves time).
pub fn load_cached(path: Option<&Path>) -> Vec<(u64, String)> {
    if hidden() {
        return Vec::new();
    }
    let key = current_key();
    if let (Some(path), Some(key)) = (path, key.as_deref()) {
        let cached = owned(path)
            .then(|| std::fs::read(path).ok())
            .flatten()
            .and_then(|b| decode(&b, key));
        if let Some(syms) = cached {
            return syms;
        }
    }
    let syms = load();
    if let (Some(path), Some(key)) = (path, key.as_deref()) {
        if !syms.is_empty() {
            let _ = store(path, key, &syms);
        }
    }
    syms
}

const MAGIC: &[u8] = b"wallprof-kallsyms 1\n";

/// `MAGIC`, the key and a newline, the count (u32 LE), then per symbol its
/// address (u64 LE), name length (u16 LE) and name.
pub fn encode(key: &str, syms: &[(u64, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + syms.len() * 40);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&(syms.len() as u32).to_le_bytes());
    for (a, n) in syms {
        let n = &n.as_bytes()[..n.len().min(u16::MAX as usize)];
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&(n.len() as u16).to_le_bytes());
        out.extend_from_slice(n);
    }
    out
}

/// The table in `bytes` when it was written under `key`, complete and
/// sorted; `None` otherwise.
pub fn decode(bytes: &[u8], key: &str) -> Option<Vec<(u64, String)>> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let rest = rest.strip_prefix(key.as_bytes())?.strip_prefix(b"\n")?;
    let (count, mut rest) = rest.split_at_checked(4)?;
    let count = u32::from_le_bytes(count.try_into().ok()?) as usize;
    let mut syms = Vec::with_capacity(count.min(rest.len() / 10));
    for _ in 0..count {
        let (addr, r) = rest.split_at_checked(8)?;
        let (len, r) = r.split_at_checked(2)?;
        let len = u16::from_le_bytes(len.try_into().ok()?) as usize;
        let (name, r) = r.split_at_checked(len)?;
        let addr = u64::from_le_bytes(addr.try_into().ok()?);
        if syms.last().is_some_and(|(a, _): &(u64, String)| *a > addr) {
            return None;
        }
        syms.push((addr, String::from_utf8(name.to_vec()).ok()?));
        rest = r;
    }
    rest.is_empty().then_some(syms)
}

/// Whether `path` (not following a symlink) belongs to the effective user:
/// wallprof run through `sudo` keeps away from the invoking user's cache.
fn owned(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    std::fs::symlink_metadata(path).is_ok_and(|m| m.uid() == me)
}

/// Write the cache atomically (a new temporary file renamed over it),
/// readable by its owner only: kernel addresses are not for everyone. Only
/// into a directory the effective user owns, and never through an existing
/// file or symlink.
fn store(path: &Path, key: &str, syms: &[(u64, String)]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    if !owned(dir) {
        return Err(std::io::Error::other(
            "cache directory owned by another user",
        ));
    }
    let tmp = dir.join(format!(".kallsyms.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let r = f
        .write_all(&encode(key, syms))
        .and_then(|_| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

impl Preload {
    /// The symbols: waits for the reading thread (or reads them here when it
    /// could not be started).
    pub fn get(mut self) -> Vec<(u64, String)> {
        match self.0.take().map(|h| h.join()) {
            Some(Ok(v)) => v,
            _ => load(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_symbols_sorted() {
        let text = "ffffffff81000200 T b_func\n\
                    ffffffff81000100 t a_func\n\
                    ffffffff82000000 D some_data\n\
                    ffffffff81000300 W weak_func\n\
                    ffffffffc0000000 t ext4_mod_func\t[ext4]\n";
        let syms = parse(text);
        let names: Vec<&str> = syms.iter().map(|s| s.1.as_str()).collect();
        assert_eq!(names, ["a_func", "b_func", "weak_func", "ext4_mod_func"]);
        assert_eq!(syms[0].0, 0xffffffff81000100);
    }

    #[test]
    fn hidden_addresses_give_nothing() {
        let text = "0000000000000000 T _text\n0000000000000000 t do_nanosleep\n";
        assert!(parse(text).is_empty());
    }

    #[test]
    fn cache_round_trip_and_key() {
        let syms = parse("ffffffff81000100 t a_func\nffffffff81000200 T b_func\n");
        let bytes = encode("boot-1 00", &syms);
        assert_eq!(decode(&bytes, "boot-1 00"), Some(syms.clone()));
        // Another boot or another set of modules: not used.
        assert_eq!(decode(&bytes, "boot-2 00"), None);
        assert_eq!(decode(&bytes, "boot-1 01"), None);
        // Truncated or with trailing bytes: not used.
        assert_eq!(decode(&bytes[..bytes.len() - 1], "boot-1 00"), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer, "boot-1 00"), None);
        assert_eq!(decode(b"garbage", "boot-1 00"), None);
    }

    #[test]
    fn cache_file_is_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("kallsyms");
        let first = load_cached(Some(&path));
        let second = load_cached(Some(&path));
        assert_eq!(first, second);
        // Written only when the addresses are visible (root here; hidden
        // addresses give an empty table and no file).
        assert_eq!(path.exists(), !first.is_empty());
        if path.exists() {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "cache readable by others: {mode:o}");
            // A stale cache (another boot) is replaced, not used.
            std::fs::write(&path, encode("another boot", &[(1, "stale".into())])).unwrap();
            assert_eq!(load_cached(Some(&path)), first);
        }
    }

    #[test]
    fn another_users_cache_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kallsyms");
        let Some(key) = current_key() else { return };
        std::fs::write(&path, encode(&key, &[(1, "planted".into())])).unwrap();
        // Only root can give the file away; elsewhere there is nothing to test.
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        if unsafe { libc::chown(c.as_ptr(), 65534, 65534) } != 0 {
            return;
        }
        let syms = load_cached(Some(&path));
        assert!(!syms.iter().any(|(_, n)| n == "planted"));
    }

    #[test]
    fn tolerates_garbage() {
        assert!(parse("not a symbol line\n\nzz T x\n").is_empty());
    }
}
