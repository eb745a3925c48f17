//! JIT symbol maps: the `/tmp/perf-PID.map` files that Node
//! (`--perf-basic-prof`), CPython 3.12+ (`-X perf`, `-X perf_jit`) and the
//! JVM (with an agent) write.
//!
//! In: the text of one map, lines of `START SIZE name` with `START` and `SIZE`
//! in hex (with or without `0x`), the name running to the end of the line.
//! Out: a [`PerfMap`] that names the code containing an address. Later lines
//! win over earlier ones for the same start (code regenerated in place).

/// One process's JIT symbols, sorted by start address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerfMap {
    entries: Vec<(u64, u64, String)>,
}

fn hex(s: &str) -> Option<u64> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    u64::from_str_radix(s, 16).ok()
}

fn parse_line(line: &str) -> Option<(u64, u64, String)> {
    let line = line.trim_end();
    let (start, rest) = line.split_once(' ')?;
    let (size, name) = rest.split_once(' ').unwrap_or((rest, ""));
    let (start, size) = (hex(start)?, hex(size)?);
    (size > 0).then(|| (start, size, name.trim().to_string()))
}

impl PerfMap {
    /// Parse a map; lines that do not parse are skipped.
    pub fn parse(text: &str) -> PerfMap {
        let mut entries: Vec<(u64, u64, String)> = text.lines().filter_map(parse_line).collect();
        // Stable sort keeps file order among equal starts; keep the last.
        entries.sort_by_key(|e| e.0);
        let mut out: Vec<(u64, u64, String)> = Vec::with_capacity(entries.len());
        for e in entries {
            match out.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => out.push(e),
            }
        }
        PerfMap { entries: out }
    }

    /// Read `dir/perf-PID.map`; `None` when there is none.
    pub fn load(dir: &std::path::Path, pid: i32) -> Option<PerfMap> {
        let text = std::fs::read(dir.join(format!("perf-{pid}.map"))).ok()?;
        Some(Self::parse(&String::from_utf8_lossy(&text)))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name of the code containing `addr`. Among overlapping entries
    /// the one that starts closest below `addr` wins.
    pub fn lookup(&self, addr: u64) -> Option<&str> {
        let i = self.entries.partition_point(|e| e.0 <= addr);
        self.entries[..i]
            .iter()
            .rev()
            .take(8)
            .find(|e| addr < e.0.saturating_add(e.1))
            .map(|e| e.2.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fixture() {
        let text = include_str!("../../tests/fixtures/stacks/perf-4242.map");
        let map = PerfMap::parse(text);
        assert_eq!(map.len(), 5);
        assert_eq!(
            map.lookup(0x3f0a_0004_0010),
            Some("JS:~fib /app/index.js:3:13")
        );
        assert_eq!(map.lookup(0x3f0a_0004_0000 + 0x80), None);
        assert_eq!(map.lookup(0x7f00_0000_1000), Some("py::work:/app/a.py"));
        assert_eq!(map.lookup(0x7f00_0000_1010), Some("py::work:/app/a.py"));
        assert_eq!(map.lookup(0x10), None);
        // Regenerated in place: the later line wins.
        assert_eq!(map.lookup(0x5000), Some("Builtin:new"));
    }
}
