//! The parts of an ELF file the unwinder needs, read once per file.
//!
//! In: the bytes of an ELF file (memory-mapped by [`ElfUnwindInfo::open`], or
//! any buffer for tests). Out: where `.eh_frame`, `.eh_frame_hdr`,
//! `.debug_frame`, `.text` and `.got` sit (file ranges and stated addresses),
//! the `PT_LOAD` segments to turn a mapping's file offset into a load bias, and
//! [`ElfUnwindInfo::section_info`], the framehop view whose section bytes are
//! zero-copy slices of the shared mapping.

use std::ops::{Deref, Range};
use std::path::Path;
use std::sync::Arc;

use framehop::ExplicitModuleSectionInfo;
use object::elf;
use object::read::elf::{ElfFile64, ProgramHeader};
use object::{Endianness, Object, ObjectSection};

/// The file's bytes: a read-only memory map, or an owned buffer.
#[derive(Debug)]
pub enum Backing {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Deref for Backing {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// A slice of a shared [`Backing`]: framehop's section data type.
#[derive(Clone, Debug)]
pub struct Bytes {
    backing: Arc<Backing>,
    range: Range<usize>,
}

impl Default for Bytes {
    fn default() -> Self {
        Bytes {
            backing: Arc::new(Backing::Owned(Vec::new())),
            range: 0..0,
        }
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.backing[self.range.clone()]
    }
}

/// One section: its stated virtual address range and where it is in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub svma: Range<u64>,
    pub file: Range<usize>,
}

/// One `PT_LOAD` program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub exec: bool,
}

/// Unwind-relevant layout of one ELF file.
#[derive(Debug)]
pub struct ElfUnwindInfo {
    backing: Arc<Backing>,
    pub eh_frame: Option<Section>,
    pub eh_frame_hdr: Option<Section>,
    pub debug_frame: Option<Section>,
    pub text: Option<Section>,
    pub got: Option<Section>,
    pub loads: Vec<Load>,
}

const PAGE: u64 = 4096;

impl ElfUnwindInfo {
    /// Map `path` read-only and parse it. `None` when it cannot be opened,
    /// mapped or parsed as a 64-bit ELF file.
    pub fn open(path: &Path) -> Option<ElfUnwindInfo> {
        let file = std::fs::File::open(path).ok()?;
        // SAFETY: the map is read-only; a file truncated under us could fault,
        // which is the accepted risk of every profiler that maps binaries.
        let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        Self::parse(Arc::new(Backing::Map(map)))
    }

    /// Parse ELF bytes.
    pub fn parse(backing: Arc<Backing>) -> Option<ElfUnwindInfo> {
        let file = ElfFile64::<Endianness>::parse(&backing[..]).ok()?;
        let endian = file.endian();
        let loads = file
            .elf_program_headers()
            .iter()
            .filter(|ph| ph.p_type(endian) == elf::PT_LOAD)
            .map(|ph| Load {
                offset: ph.p_offset(endian),
                vaddr: ph.p_vaddr(endian),
                filesz: ph.p_filesz(endian),
                exec: ph.p_flags(endian).contains(elf::PF_X),
            })
            .collect();
        let section = |name: &str| -> Option<Section> {
            let s = file.section_by_name(name)?;
            let range = s.compressed_file_range().ok()?;
            if range.format != object::CompressionFormat::None {
                return None;
            }
            let (off, size) = s.file_range()?;
            let file = off as usize..(off + size) as usize;
            (file.end <= backing.len()).then_some(Section {
                svma: s.address()..s.address() + s.size(),
                file,
            })
        };
        let info = ElfUnwindInfo {
            eh_frame: section(".eh_frame"),
            eh_frame_hdr: section(".eh_frame_hdr"),
            debug_frame: section(".debug_frame"),
            text: section(".text"),
            got: section(".got"),
            loads,
            backing: backing.clone(),
        };
        Some(info)
    }

    /// Whether the file has any unwind information framehop can use.
    pub fn has_unwind_info(&self) -> bool {
        self.eh_frame.is_some() || self.debug_frame.is_some()
    }

    /// The load bias of a mapping of this file at `start` from file offset
    /// `pgoff`: the amount added to stated addresses (SVMAs) to get process
    /// addresses. Found from the `PT_LOAD` segment that holds `pgoff`
    /// (executable segments first); the identity layout when none does.
    pub fn bias(&self, start: u64, pgoff: u64) -> u64 {
        let holds = |l: &&Load| {
            let lo = l.offset & !(PAGE - 1);
            (lo..l.offset + l.filesz.max(1)).contains(&pgoff)
        };
        let seg = self
            .loads
            .iter()
            .filter(|l| l.exec)
            .find(holds)
            .or_else(|| self.loads.iter().find(holds));
        let delta = seg.map_or(0, |l| l.vaddr.wrapping_sub(l.offset));
        start.wrapping_sub(pgoff).wrapping_sub(delta)
    }

    fn bytes(&self, s: &Option<Section>) -> Option<Bytes> {
        s.as_ref().map(|s| Bytes {
            backing: self.backing.clone(),
            range: s.file.clone(),
        })
    }

    /// framehop's view of this file. `.debug_frame` is only offered when
    /// there is no `.eh_frame` (framehop would ignore it then anyway, and
    /// indexing it costs time).
    pub fn section_info(&self) -> ExplicitModuleSectionInfo<Bytes> {
        let svma = |s: &Option<Section>| s.as_ref().map(|s| s.svma.clone());
        ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: svma(&self.text),
            got_svma: svma(&self.got),
            eh_frame_svma: svma(&self.eh_frame),
            eh_frame: self.bytes(&self.eh_frame),
            eh_frame_hdr_svma: svma(&self.eh_frame_hdr),
            eh_frame_hdr: self.bytes(&self.eh_frame_hdr),
            debug_frame: if self.eh_frame.is_none() {
                self.bytes(&self.debug_frame)
            } else {
                None
            },
            ..Default::default()
        }
    }
}
