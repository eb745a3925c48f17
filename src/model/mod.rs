//! Data types with no I/O: the recording ([`trace`]) that collectors fill in,
//! and the serde types of `profile.json` ([`profile`]).

pub mod profile;
pub mod syscalls;
pub mod trace;

use serde::{Deserialize, Serialize};

/// Why the critical path was off-CPU: the contract's `waits[].kind`
/// vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitKind {
    Disk,
    Network,
    Sleep,
    Lock,
    Ipc,
    Child,
    Terminal,
    CpuContention,
    Other,
}

impl WaitKind {
    pub const ALL: [WaitKind; 9] = [
        WaitKind::Disk,
        WaitKind::Network,
        WaitKind::Sleep,
        WaitKind::Lock,
        WaitKind::Ipc,
        WaitKind::Child,
        WaitKind::Terminal,
        WaitKind::CpuContention,
        WaitKind::Other,
    ];

    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::Disk => "disk",
            WaitKind::Network => "network",
            WaitKind::Sleep => "sleep",
            WaitKind::Lock => "lock",
            WaitKind::Ipc => "ipc",
            WaitKind::Child => "child",
            WaitKind::Terminal => "terminal",
            WaitKind::CpuContention => "cpu-contention",
            WaitKind::Other => "other",
        }
    }
}

impl std::fmt::Display for WaitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
