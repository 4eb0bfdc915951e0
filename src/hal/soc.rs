//! Buda SoC descriptors (tt-budabackend's `device/*.yaml`) and row harvesting.
//!
//! A descriptor names the chip's arch, its NOC grid, the NOC coordinates (`x-y`) of every
//! core by kind (ARC, PCIe, DRAM channels, Ethernet, functional workers, harvested workers,
//! router-only), the L1 of a worker, the size of a DRAM bank. Buda's netlists place ops on the
//! *worker grid*: the functional workers' distinct NOC columns and rows, numbered from 0 in
//! NOC order (Grayskull's 10x12 is the workers of NOC rows 1-5 and 7-11, columns 1-12).
//!
//! Harvesting: a mask whose bit `i` is NOC row `i` names the rows of Tensix cores fused off
//! on a chip (PyBuda's `harvested_rows=[1, 11]` is mask 2050). Buda harvests rows on Grayskull
//! and Wormhole, where only the worker rows 1-5 and 7-11 can be harvested; each harvested row
//! leaves the worker grid one row shorter. On Grayskull the named rows go; on Wormhole the NOC
//! translates coordinates so the harvested rows are always the last ones of the grid (Buda's
//! `extract_rows_to_remove`), so only their count changes the grid. Blackhole harvests Tensix
//! *columns* (tt-umd's Blackhole harvesting mask is per column) and Buda harvests nothing on it:
//! a rows mask is refused there. Harvesting changes which cores exist, never what the
//! simulated chip computes.

#[cfg(feature = "alloc")]
use alloc::{format, string::String, string::ToString, vec::Vec};
use core::fmt;

use super::ChipGeometry;
use crate::format::Arch;

/// The rows Grayskull and Wormhole can harvest: NOC rows 1-5 and 7-11.
/// cbindgen:ignore
pub const HARVESTABLE_ROWS: u64 = 0b1111_1011_1110;

/// Rows of a mask as "1, 11" (at most 64 rows).
pub struct Rows(pub u64);

impl fmt::Display for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        let mut first = true;
        for row in 0..64 {
            if self.0 >> row & 1 == 1 {
                if !first {
                    f.write_str(", ")?;
                }
                write!(f, "{row}")?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A harvesting mask a chip cannot have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HarvestError {
    /// Rows the arch cannot harvest.
    NotHarvestable { arch: Arch, mask: u64, bad: u64 },
    /// Every worker row would go.
    NoRowsLeft { mask: u64, rows: u32 },
    /// Grayskull rows that hold no worker in the descriptor (and are not harvested there).
    NoWorkers { mask: u64, rows: u64 },
}

impl fmt::Display for HarvestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HarvestError::NotHarvestable {
                arch: Arch::Blackhole,
                mask,
                ..
            } => write!(
                f,
                "harvested rows mask {mask} ({mask:#x}, rows {}): Blackhole harvests Tensix \
                 columns, not rows; no rows mask applies to it",
                Rows(mask)
            ),
            HarvestError::NotHarvestable { arch, mask, bad } => write!(
                f,
                "harvested rows mask {mask} ({mask:#x}): {} can harvest only rows 1-5 and 7-11, \
                 not row {}",
                arch.name(),
                Rows(bad)
            ),
            HarvestError::NoRowsLeft { mask, rows } => write!(
                f,
                "harvested rows mask {mask} ({mask:#x}, rows {}) harvests all {rows} worker \
                 rows; none would be left",
                Rows(mask)
            ),
            HarvestError::NoWorkers { mask, rows } => write!(
                f,
                "harvested rows mask {mask} ({mask:#x}): row {} holds no worker in this \
                 descriptor",
                Rows(rows)
            ),
        }
    }
}

/// Whether `arch` can harvest the rows of `mask` (see the module).
pub fn check_mask(arch: Arch, mask: u64) -> Result<(), HarvestError> {
    let bad = match arch {
        Arch::Grayskull | Arch::WormholeB0 => mask & !HARVESTABLE_ROWS,
        Arch::Blackhole => mask,
    };
    match bad {
        0 => Ok(()),
        _ => Err(HarvestError::NotHarvestable { arch, mask, bad }),
    }
}

impl ChipGeometry {
    /// The chip of this geometry with the rows of `mask` harvested: the worker grid and the
    /// compute grid are `popcount(mask)` rows shorter. The geometry must be unharvested.
    pub fn harvested(mut self, mask: u64) -> Result<ChipGeometry, HarvestError> {
        check_mask(self.arch, mask)?;
        let n = mask.count_ones();
        let rows = self.worker_grid.1;
        if n >= rows || n >= self.grid.1 {
            return Err(HarvestError::NoRowsLeft { mask, rows });
        }
        self.worker_grid.1 -= n;
        self.grid.1 -= n;
        self.harvested_rows = mask;
        Ok(self)
    }
}

/// Largest descriptor accepted (upstream's are under 3 KiB).
/// cbindgen:ignore
pub const MAX_DESCRIPTOR_BYTES: usize = 256 * 1024;
/// Most cores one list of a descriptor may name.
/// cbindgen:ignore
pub const MAX_CORES: usize = 4096;
/// Deepest nesting accepted.
#[cfg(feature = "alloc")]
const MAX_DEPTH: usize = 8;

/// A descriptor that cannot be read: the file, the line (0: none), what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg(feature = "alloc")]
pub struct SocError {
    pub file: String,
    pub line: u32,
    pub message: String,
}

#[cfg(feature = "alloc")]
impl fmt::Display for SocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.file.chars() {
            match c.is_control() {
                true => write!(f, "{}", c.escape_default())?,
                false => fmt::Write::write_char(f, c)?,
            }
        }
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The arch a descriptor names (`arch_name`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocArch {
    Grayskull,
    /// Wormhole A0 (`WORMHOLE`): upstream ships descriptors for it; ttrt simulates no A0.
    Wormhole,
    WormholeB0,
    Blackhole,
}

impl SocArch {
    pub fn from_name(name: &str) -> Option<SocArch> {
        match name.trim() {
            "GRAYSKULL" | "grayskull" => Some(SocArch::Grayskull),
            "WORMHOLE" | "wormhole" => Some(SocArch::Wormhole),
            "WORMHOLE_B0" | "wormhole_b0" => Some(SocArch::WormholeB0),
            "BLACKHOLE" | "blackhole" => Some(SocArch::Blackhole),
            _ => None,
        }
    }

    /// The name as descriptors write it.
    pub const fn name(self) -> &'static str {
        match self {
            SocArch::Grayskull => "GRAYSKULL",
            SocArch::Wormhole => "WORMHOLE",
            SocArch::WormholeB0 => "WORMHOLE_B0",
            SocArch::Blackhole => "BLACKHOLE",
        }
    }

    /// The arch ttrt simulates for it.
    pub const fn arch(self) -> Option<Arch> {
        match self {
            SocArch::Grayskull => Some(Arch::Grayskull),
            SocArch::Wormhole => None,
            SocArch::WormholeB0 => Some(Arch::WormholeB0),
            SocArch::Blackhole => Some(Arch::Blackhole),
        }
    }
}

/// A core's NOC coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Core {
    pub x: u32,
    pub y: u32,
}

/// A Buda SoC descriptor, read.
#[derive(Clone, Debug, PartialEq)]
#[cfg(feature = "alloc")]
pub struct SocDescriptor {
    pub arch: SocArch,
    /// `grid`: the NOC grid (x, y).
    pub grid: (u32, u32),
    /// `physical` (descriptors in NOC-translated coordinates have one), else `grid`.
    pub physical_grid: (u32, u32),
    pub arc: Vec<Core>,
    pub pcie: Vec<Core>,
    /// One list of cores per DRAM channel.
    pub dram: Vec<Vec<Core>>,
    pub eth: Vec<Core>,
    pub workers: Vec<Core>,
    pub harvested_workers: Vec<Core>,
    pub router_only: Vec<Core>,
    pub worker_l1_size: u64,
    pub dram_bank_size: u64,
    pub eth_l1_size: u64,
}

/// A node of the YAML subset descriptors use.
#[cfg(feature = "alloc")]
enum Y {
    Scalar(String, u32),
    List(Vec<Y>, u32),
    Map(Vec<(String, Y)>, u32),
}

#[cfg(feature = "alloc")]
impl Y {
    fn line(&self) -> u32 {
        match self {
            Y::Scalar(_, l) | Y::List(_, l) | Y::Map(_, l) => *l,
        }
    }

    fn get(&self, key: &str) -> Option<&Y> {
        match self {
            Y::Map(entries, _) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

#[cfg(feature = "alloc")]
struct Reader<'a> {
    file: &'a str,
}

#[cfg(feature = "alloc")]
impl Reader<'_> {
    fn err<T>(&self, line: u32, message: impl ToString) -> Result<T, SocError> {
        Err(SocError {
            file: self.file.to_string(),
            line,
            message: message.to_string(),
        })
    }

    fn tree(&self, text: &str) -> Result<Y, SocError> {
        use saphyr_parser::{Event, Parser};
        if text.len() > MAX_DESCRIPTOR_BYTES {
            return self.err(
                0,
                format!(
                    "{} B is too large for a SoC descriptor (at most {MAX_DESCRIPTOR_BYTES} B)",
                    text.len()
                ),
            );
        }
        // Open containers: a list's items, or a map's entries and its pending key.
        enum Open {
            List(Vec<Y>, u32),
            Map(Vec<(String, Y)>, Option<String>, u32),
        }
        let mut stack: Vec<Open> = Vec::new();
        let mut root = None;
        let mut parser = Parser::new_from_str(text);
        while let Some(next) = parser.next_event() {
            let (event, span) = match next {
                Ok(e) => e,
                Err(e) => {
                    let line = u32::try_from(e.marker().line()).unwrap_or(u32::MAX);
                    return self.err(line, format!("YAML syntax error: {}", e.info()));
                }
            };
            let line = u32::try_from(span.start.line()).unwrap_or(u32::MAX);
            let done = match event {
                Event::Scalar(v, _, anchor, _) => {
                    if anchor != 0 {
                        return self.err(line, "YAML anchors are not used in SoC descriptors");
                    }
                    Some(Y::Scalar(v.into_owned(), line))
                }
                Event::Alias(_) => {
                    return self.err(line, "YAML aliases are not used in SoC descriptors")
                }
                Event::SequenceStart(..) | Event::MappingStart(..) => {
                    if stack.len() >= MAX_DEPTH {
                        return self.err(line, format!("nested deeper than {MAX_DEPTH} levels"));
                    }
                    if matches!(stack.last(), Some(Open::Map(_, None, _))) {
                        return self.err(line, "a map key must be a plain value");
                    }
                    stack.push(match event {
                        Event::SequenceStart(..) => Open::List(Vec::new(), line),
                        _ => Open::Map(Vec::new(), None, line),
                    });
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                    Some(Open::List(items, l)) => Some(Y::List(items, l)),
                    Some(Open::Map(entries, _, l)) => Some(Y::Map(entries, l)),
                    None => None,
                },
                Event::StreamEnd => break,
                _ => None,
            };
            let Some(node) = done else { continue };
            match stack.last_mut() {
                None => {
                    if root.is_none() {
                        root = Some(node);
                    }
                }
                Some(Open::List(items, _)) => {
                    if items.len() >= MAX_CORES {
                        return self.err(line, format!("a list of more than {MAX_CORES} items"));
                    }
                    items.push(node)
                }
                Some(Open::Map(entries, key, _)) => match key.take() {
                    None => {
                        let Y::Scalar(k, _) = node else {
                            return self.err(line, "a map key must be a plain value");
                        };
                        if entries.iter().any(|(e, _)| *e == k) {
                            return self.err(line, format!("duplicate key `{k}`"));
                        }
                        *key = Some(k);
                    }
                    Some(k) => entries.push((k, node)),
                },
            }
        }
        match root {
            Some(r @ Y::Map(..)) => Ok(r),
            Some(other) => self.err(other.line(), "a SoC descriptor is a map of keys"),
            None => self.err(0, "the SoC descriptor is empty"),
        }
    }

    fn field<'y>(&self, root: &'y Y, key: &str) -> Result<&'y Y, SocError> {
        match root.get(key) {
            Some(v) => Ok(v),
            None => self.err(root.line(), format!("no `{key}` key")),
        }
    }

    fn uint(&self, v: &Y, key: &str) -> Result<u64, SocError> {
        match v {
            Y::Scalar(s, line) => match s.trim().parse::<u64>() {
                Ok(n) => Ok(n),
                Err(_) => self.err(*line, format!("{key}: expected an integer, found `{s}`")),
            },
            other => self.err(other.line(), format!("{key}: expected an integer")),
        }
    }

    fn size(&self, root: &Y, key: &str) -> Result<(u32, u32), SocError> {
        let map = self.field(root, key)?;
        let mut out = [0u32; 2];
        for (i, k) in ["x_size", "y_size"].into_iter().enumerate() {
            let v = self.field(map, k)?;
            let n = self.uint(v, k)?;
            out[i] = match u32::try_from(n) {
                Ok(n) if (1..=1024).contains(&n) => n,
                _ => return self.err(v.line(), format!("{key}.{k}: {n} is not 1 to 1024")),
            };
        }
        Ok((out[0], out[1]))
    }

    fn core(&self, v: &Y, key: &str, grid: (u32, u32)) -> Result<Core, SocError> {
        let Y::Scalar(s, line) = v else {
            return self.err(v.line(), format!("{key}: expected a core `x-y`"));
        };
        // Upstream reads `x-y` (also `x,y`, `xXy`).
        let t = s.trim();
        let parsed = t
            .split_once(['-', ',', 'x', 'X'])
            .and_then(|(x, y)| Some((x.parse::<u32>().ok()?, y.parse::<u32>().ok()?)));
        match parsed {
            Some((x, y)) if x < grid.0 && y < grid.1 => Ok(Core { x, y }),
            Some((x, y)) => self.err(
                *line,
                format!(
                    "{key}: core {x}-{y} is outside the {}x{} grid",
                    grid.0, grid.1
                ),
            ),
            None => self.err(*line, format!("{key}: expected a core `x-y`, found `{t}`")),
        }
    }

    fn cores(&self, root: &Y, key: &str, grid: (u32, u32)) -> Result<Vec<Core>, SocError> {
        match self.field(root, key)? {
            Y::List(items, _) => items.iter().map(|v| self.core(v, key, grid)).collect(),
            Y::Scalar(s, _) if s.is_empty() => Ok(Vec::new()),
            other => self.err(other.line(), format!("{key}: expected a list of cores")),
        }
    }
}

#[cfg(feature = "alloc")]
impl SocDescriptor {
    /// Reads the descriptor `text` (named `file` in errors).
    pub fn parse(text: &str, file: &str) -> Result<SocDescriptor, SocError> {
        let r = Reader { file };
        let root = r.tree(text)?;
        let arch_node = r.field(&root, "arch_name")?;
        let arch = match arch_node {
            Y::Scalar(s, line) => match SocArch::from_name(s) {
                Some(a) => a,
                None => {
                    return r.err(
                        *line,
                        format!(
                            "arch_name: `{s}` is not GRAYSKULL, WORMHOLE, WORMHOLE_B0 or BLACKHOLE"
                        ),
                    )
                }
            },
            other => return r.err(other.line(), "arch_name: expected a name"),
        };
        let grid = r.size(&root, "grid")?;
        let physical_grid = match root.get("physical") {
            Some(_) => r.size(&root, "physical")?,
            None => grid,
        };
        let dram = match r.field(&root, "dram")? {
            Y::List(channels, _) => channels
                .iter()
                .map(|ch| match ch {
                    Y::List(items, _) if !items.is_empty() => {
                        items.iter().map(|v| r.core(v, "dram", grid)).collect()
                    }
                    Y::List(_, line) => r.err(*line, "dram: a channel with no core"),
                    single => r.core(single, "dram", grid).map(|c| alloc::vec![c]),
                })
                .collect::<Result<Vec<_>, _>>()?,
            other => return r.err(other.line(), "dram: expected a list of channels"),
        };
        let workers = r.cores(&root, "functional_workers", grid)?;
        if workers.is_empty() {
            return r.err(
                r.field(&root, "functional_workers")?.line(),
                "functional_workers: no worker core",
            );
        }
        if dram.is_empty() {
            return r.err(r.field(&root, "dram")?.line(), "dram: no channel");
        }
        let size = |key: &str| -> Result<u64, SocError> {
            let v = r.field(&root, key)?;
            r.uint(v, key)
        };
        let d = SocDescriptor {
            arch,
            grid,
            physical_grid,
            arc: r.cores(&root, "arc", grid)?,
            pcie: r.cores(&root, "pcie", grid)?,
            dram,
            eth: r.cores(&root, "eth", grid)?,
            harvested_workers: match root.get("harvested_workers") {
                Some(_) => r.cores(&root, "harvested_workers", grid)?,
                None => Vec::new(),
            },
            router_only: match root.get("router_only") {
                Some(_) => r.cores(&root, "router_only", grid)?,
                None => Vec::new(),
            },
            workers,
            worker_l1_size: size("worker_l1_size")?,
            dram_bank_size: size("dram_bank_size")?,
            eth_l1_size: size("eth_l1_size")?,
        };
        if d.worker_l1_size == 0 || d.dram_bank_size == 0 {
            return r.err(0, "worker_l1_size and dram_bank_size must not be 0");
        }
        Ok(d)
    }

    /// The NOC rows holding functional workers, as a mask (bit `y`); rows past 63 are not in it.
    pub fn worker_rows(&self) -> u64 {
        mask_of(&self.workers)
    }

    /// The NOC rows of `harvested_workers`: rows this descriptor already has harvested.
    pub fn harvested_rows(&self) -> u64 {
        mask_of(&self.harvested_workers)
    }

    /// The worker grid (columns, rows): the workers' distinct NOC columns and rows.
    pub fn worker_grid(&self) -> (u32, u32) {
        let distinct = |key: fn(&Core) -> u32| {
            let mut v: Vec<u32> = self.workers.iter().map(key).collect();
            v.sort_unstable();
            v.dedup();
            v.len() as u32
        };
        (distinct(|c| c.x), distinct(|c| c.y))
    }

    /// The geometry of a chip this descriptor describes with the rows of `mask` harvested:
    /// its DRAM channels, bank size and worker L1 from the descriptor; its compute grid the
    /// usable worker grid; alignments and reserved regions the arch's.
    ///
    /// Rows the descriptor already lists as harvested (`harvested_workers`) are not taken
    /// again: PyBuda embeds the harvested descriptor of the chip it compiled for. On Grayskull
    /// every other row of the mask must hold workers in the descriptor; on Wormhole the mask's
    /// further rows shorten the grid from its end.
    pub fn geometry(&self, mask: u64) -> Result<ChipGeometry, HarvestError> {
        let arch = self.arch.arch().unwrap_or(Arch::WormholeB0);
        check_mask(arch, mask)?;
        let already = self.harvested_rows();
        let (cols, rows) = self.worker_grid();
        let more = match arch {
            Arch::Grayskull => {
                let missing = mask & !already & !self.worker_rows();
                if missing != 0 {
                    return Err(HarvestError::NoWorkers {
                        mask,
                        rows: missing,
                    });
                }
                (mask & !already).count_ones()
            }
            _ => mask.count_ones().saturating_sub(already.count_ones()),
        };
        if more >= rows {
            return Err(HarvestError::NoRowsLeft { mask, rows });
        }
        let mut g = ChipGeometry::of(arch);
        g.dram_channels = self.dram.len() as u32;
        g.dram_channel_size = self.dram_bank_size;
        g.l1_size = self.worker_l1_size;
        g.worker_grid = (cols, rows - more);
        g.grid = g.worker_grid;
        g.harvested_rows = mask;
        Ok(g)
    }
}

/// Why a chip's geometry cannot be had from a descriptor and a mask.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg(feature = "alloc")]
pub enum GeometryError {
    /// The descriptor could not be read.
    Descriptor(SocError),
    /// The descriptor describes another arch than the one asked for.
    ArchMismatch {
        file: String,
        described: SocArch,
        asked: Arch,
    },
    Harvest(HarvestError),
}

#[cfg(feature = "alloc")]
impl fmt::Display for GeometryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeometryError::Descriptor(e) => write!(f, "{e}"),
            GeometryError::ArchMismatch {
                file,
                described,
                asked,
            } => write!(
                f,
                "{file}: the SoC descriptor describes a {} chip, but the arch is {}",
                described.name(),
                asked.name()
            ),
            GeometryError::Harvest(e) => write!(f, "{e}"),
        }
    }
}

/// The geometry of a chip of `arch`: described by `desc` (its file name for messages) when
/// given, else the arch's default; with the rows of `mask` harvested.
#[cfg(feature = "alloc")]
pub fn geometry_for(
    arch: Arch,
    desc: Option<(&SocDescriptor, &str)>,
    mask: u64,
) -> Result<ChipGeometry, GeometryError> {
    match desc {
        None => ChipGeometry::of(arch)
            .harvested(mask)
            .map_err(GeometryError::Harvest),
        Some((d, file)) => {
            if d.arch.arch() != Some(arch) {
                return Err(GeometryError::ArchMismatch {
                    file: file.to_string(),
                    described: d.arch,
                    asked: arch,
                });
            }
            d.geometry(mask).map_err(GeometryError::Harvest)
        }
    }
}

/// Reads and parses the descriptor at `path` (at most [`MAX_DESCRIPTOR_BYTES`]).
#[cfg(feature = "std")]
pub fn read_file(path: &str) -> Result<SocDescriptor, SocError> {
    use std::io::Read;
    let fail = |message: String| SocError {
        file: path.to_string(),
        line: 0,
        message,
    };
    let f = std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
    let mut text = String::new();
    f.take(MAX_DESCRIPTOR_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    SocDescriptor::parse(&text, path)
}

#[cfg(feature = "alloc")]
fn mask_of(cores: &[Core]) -> u64 {
    cores
        .iter()
        .filter(|c| c.y < 64)
        .fold(0, |m, c| m | 1u64 << c.y)
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    const GS: &str = "grid:\n  x_size: 13\n  y_size: 12\narc:\n  [0-2]\npcie:\n  [0-4]\n\
        dram:\n  [[1-0], [1-6]]\neth:\n  []\nfunctional_workers:\n  [\n    1-1, 2-1,\n    1-2, 2-2,\n  ]\n\
        harvested_workers:\n  []\nrouter_only:\n  [0-0]\nworker_l1_size:\n  1048576\n\
        dram_bank_size:\n  1073741824\neth_l1_size:\n  0\narch_name: GRAYSKULL\n";

    #[test]
    fn reads_a_small_descriptor() {
        let d = SocDescriptor::parse(GS, "gs.yaml").unwrap();
        assert_eq!(d.arch, SocArch::Grayskull);
        assert_eq!(d.grid, (13, 12));
        assert_eq!(d.worker_grid(), (2, 2));
        assert_eq!(d.dram.len(), 2);
        assert_eq!(d.worker_rows(), 0b110);
        let g = d.geometry(0b10).unwrap();
        assert_eq!(
            (g.worker_grid, g.dram_channels, g.l1_size),
            ((2, 1), 2, 1 << 20)
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = GS.replace("[0-2]", "[0-99]");
        let e = SocDescriptor::parse(&bad, "gs.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "gs.yaml:5: arc: core 0-99 is outside the 13x12 grid"
        );
        let e = SocDescriptor::parse(&GS.replace("arch_name: GRAYSKULL\n", ""), "f").unwrap_err();
        assert!(e.to_string().contains("no `arch_name` key"), "{e}");
        let e = SocDescriptor::parse(&GS.replace("1048576", "lots"), "f").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("f:22: worker_l1_size: expected an integer"),
            "{e}"
        );
    }

    #[test]
    fn masks_per_arch() {
        assert!(check_mask(Arch::Grayskull, 2050).is_ok());
        let e = check_mask(Arch::Grayskull, 0b100_0001).unwrap_err();
        assert_eq!(
            e.to_string(),
            "harvested rows mask 65 (0x41): Grayskull can harvest only rows 1-5 and 7-11, not row 0, 6"
        );
        assert!(check_mask(Arch::Blackhole, 2).is_err());
        let g = ChipGeometry::of(Arch::Grayskull).harvested(2050).unwrap();
        assert_eq!(g.worker_grid, (12, 8));
    }
}
