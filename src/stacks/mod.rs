//! User and kernel stacks, from raw sample bytes to readable frames.
//!
//! In: per sample, the user registers and a copy of the user stack captured by
//! perf (`PERF_SAMPLE_REGS_USER` / `PERF_SAMPLE_STACK_USER`) plus the MMAP2
//! records of every executable mapping. Out: interned address stacks during the
//! run ([`unwind::Unwinder`], DWARF CFI via framehop, frame pointers where there
//! is no unwind information), and, once the target has exited, names for those
//! addresses ([`symbolize::Symbols`]: ELF/DWARF via blazesym, kernel symbols,
//! JIT perf maps). `docs/stacks.md` describes the whole pipeline and the
//! off-CPU stack budget.
//!
//! Address convention: every address that leaves this module in a stack is a
//! *lookup address*. The leaf is the sampled instruction pointer as is; every
//! caller frame is its return address minus one, so it points into the call
//! instruction and symbolizes to the caller's line even after a `noreturn`
//! call at the very end of a function.

pub mod elf;
pub mod perfmap;
pub mod service;
pub mod symbolize;
pub mod unwind;

#[cfg(test)]
mod tests;

pub use symbolize::{Frame, Symbols};
pub use unwind::Unwinder;

/// Lowest kernel address on x86_64 (the canonical upper half).
pub const KERNEL_START: u64 = 0xffff_8000_0000_0000;

/// Whether `addr` lies in the kernel half of the address space.
pub fn is_kernel(addr: u64) -> bool {
    addr >= KERNEL_START
}

/// The module name shown for a file: its basename, without a
/// ` (deleted)` suffix.
pub fn module_name(path: &str) -> &str {
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    path.rsplit('/').next().unwrap_or(path)
}
