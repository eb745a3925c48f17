//! Find tracepoints: their ids and the offsets of the raw fields wallprof
//! reads, from tracefs (`events/<group>/<name>/{id,format}`).
//!
//! tracefs is looked for at `/sys/kernel/tracing` and
//! `/sys/kernel/debug/tracing`. When it is not mounted and wallprof runs as
//! root, it is mounted at `/sys/kernel/tracing`, as perf itself does; the
//! summary says so. The format parser takes `&str` and is tested on captured
//! format files.

use std::path::{Path, PathBuf};

/// One field of a tracepoint's raw record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub offset: usize,
    pub size: usize,
}

/// A tracepoint's id and field layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointFormat {
    pub id: u64,
    pub fields: Vec<(String, Field)>,
}

impl TracepointFormat {
    pub fn field(&self, name: &str) -> Option<Field> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, f)| *f)
    }
}

/// Parse a tracefs `format` file.
pub fn parse_format(text: &str) -> Option<TracepointFormat> {
    let mut id = None;
    let mut fields = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("ID:") {
            id = rest.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("field:") {
            // field:pid_t prev_pid;	offset:24;	size:4;	signed:1;
            let mut parts = rest.split(';');
            let decl = parts.next()?.trim();
            let name = decl.rsplit(' ').next()?;
            let name = name.split('[').next()?.to_string();
            let mut offset = None;
            let mut size = None;
            for p in parts {
                let p = p.trim();
                if let Some(v) = p.strip_prefix("offset:") {
                    offset = v.parse().ok();
                } else if let Some(v) = p.strip_prefix("size:") {
                    size = v.parse().ok();
                }
            }
            fields.push((
                name,
                Field {
                    offset: offset?,
                    size: size?,
                },
            ));
        }
    }
    Some(TracepointFormat { id: id?, fields })
}

/// Read an integer field from a raw tracepoint record.
pub fn read_int(raw: &[u8], f: Field) -> Option<i64> {
    let b = raw.get(f.offset..f.offset + f.size)?;
    Some(match f.size {
        1 => b[0] as i8 as i64,
        2 => i16::from_ne_bytes(b.try_into().ok()?) as i64,
        4 => i32::from_ne_bytes(b.try_into().ok()?) as i64,
        8 => i64::from_ne_bytes(b.try_into().ok()?),
        _ => return None,
    })
}

const CANDIDATES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// Where tracefs is, and whether wallprof had to mount it.
#[derive(Clone, Debug)]
pub struct Tracefs {
    pub root: PathBuf,
    pub mounted_by_us: bool,
}

/// Find tracefs, mounting it when it is missing and we are root.
pub fn locate() -> Result<Tracefs, String> {
    for c in CANDIDATES {
        if Path::new(c).join("events").is_dir() {
            return Ok(Tracefs {
                root: c.into(),
                mounted_by_us: false,
            });
        }
        if let Err(e) = std::fs::read_dir(c) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(format!(
                    "{c} is readable by root only; tracepoints need root or CAP_PERFMON with perf_event_paranoid <= -1"
                ));
            }
        }
    }
    if nix::unistd::geteuid().is_root() {
        let target = Path::new(CANDIDATES[0]);
        let r = nix::mount::mount(
            Some("nodev"),
            target,
            Some("tracefs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        );
        if r.is_ok() && target.join("events").is_dir() {
            return Ok(Tracefs {
                root: target.into(),
                mounted_by_us: true,
            });
        }
        return Err(format!(
            "tracefs is not mounted and mounting it at {} failed",
            target.display()
        ));
    }
    Err(
        "tracefs is not mounted (mount it with `mount -t tracefs nodev /sys/kernel/tracing`)"
            .into(),
    )
}

impl Tracefs {
    pub fn tracepoint(&self, group: &str, name: &str) -> Result<TracepointFormat, String> {
        let path = self
            .root
            .join("events")
            .join(group)
            .join(name)
            .join("format");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                format!("{} is readable by root only", path.display())
            } else {
                format!("cannot read {}: {e}", path.display())
            }
        })?;
        parse_format(&text).ok_or_else(|| format!("cannot parse {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SWITCH: &str = include_str!("../../../tests/fixtures/tracefs/sched_switch.format");

    #[test]
    fn parses_sched_switch_format() {
        let f = parse_format(SWITCH).unwrap();
        assert!(f.id > 0);
        assert_eq!(
            f.field("prev_pid"),
            Some(Field {
                offset: 24,
                size: 4
            })
        );
        assert_eq!(
            f.field("prev_state"),
            Some(Field {
                offset: 32,
                size: 8
            })
        );
        assert_eq!(
            f.field("prev_comm"),
            Some(Field {
                offset: 8,
                size: 16
            })
        );
        assert_eq!(f.field("common_flags"), Some(Field { offset: 2, size: 1 }));
    }

    #[test]
    fn reads_ints_of_each_size() {
        let raw = [
            0u8, 0, 0x10, 0, 7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert_eq!(read_int(&raw, Field { offset: 2, size: 1 }), Some(0x10));
        assert_eq!(read_int(&raw, Field { offset: 4, size: 4 }), Some(7));
        assert_eq!(read_int(&raw, Field { offset: 8, size: 8 }), Some(-1));
        assert_eq!(
            read_int(
                &raw,
                Field {
                    offset: 12,
                    size: 8
                }
            ),
            None
        );
    }
}
