//! Buffer page layouts: which bank each page of a tensor lives in, and where in it.
//!
//! A tensor of shape `[a, b, c, d]` is viewed as a 2D matrix of `H = a*b*c` rows and `W = d`
//! columns and cut into pages: 32x32 tiles in TILE layout, rows (or row pieces one shard wide)
//! in ROW_MAJOR layout. Pages are numbered in tensor order and each takes
//! `round_up(page_size, alignment)` bytes in its bank. An interleaved buffer deals pages to its
//! banks in turn; a sharded buffer gives each core (or DRAM bank) one rectangular shard. The
//! buffer has one address in every bank, so a page's location is a bank and an offset from it.

use core::fmt;

use crate::format::{tile_size_bytes, Arch, DataFormat, TileDim};

/// Rows and columns of a tile page.
const TILE: u32 = 32;

/// Where a buffer lives. Values mirror the C API's enum.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BufferType {
    Dram = 0,
    L1 = 1,
    L1Small = 2,
    Trace = 3,
}

impl BufferType {
    /// Every buffer type, in value order.
    pub const ALL: [BufferType; 4] = [
        BufferType::Dram,
        BufferType::L1,
        BufferType::L1Small,
        BufferType::Trace,
    ];

    /// TT-Metal's spelling, as in its messages.
    pub const fn name(self) -> &'static str {
        match self {
            BufferType::Dram => "DRAM",
            BufferType::L1 => "L1",
            BufferType::L1Small => "L1_SMALL",
            BufferType::Trace => "TRACE",
        }
    }

    /// The buffer type with C value `v`.
    pub fn from_u32(v: u32) -> Option<BufferType> {
        BufferType::ALL.iter().copied().find(|t| *t as u32 == v)
    }

    /// DRAM and TRACE live in DRAM banks, L1 and L1_SMALL in L1 banks.
    pub const fn is_dram(self) -> bool {
        matches!(self, BufferType::Dram | BufferType::Trace)
    }
}

impl fmt::Display for BufferType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a tensor's elements are arranged in its pages. Values mirror the C API's enum.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TensorLayout {
    Tile = 0,
    RowMajor = 1,
}

/// How pages are spread over banks. Values mirror the C API's enum.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryLayout {
    Interleaved = 0,
    HeightSharded = 1,
    WidthSharded = 2,
    BlockSharded = 3,
}

/// In which order shards are dealt to the cores of a shard grid. Values mirror the C API's enum.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShardOrientation {
    /// Along x first (y outer, x inner).
    RowMajor = 0,
    /// Along y first (x outer, y inner).
    ColMajor = 1,
}

impl TensorLayout {
    pub const fn name(self) -> &'static str {
        match self {
            TensorLayout::Tile => "TILE",
            TensorLayout::RowMajor => "ROW_MAJOR",
        }
    }

    pub fn from_u32(v: u32) -> Option<TensorLayout> {
        [TensorLayout::Tile, TensorLayout::RowMajor]
            .into_iter()
            .find(|l| *l as u32 == v)
    }
}

impl MemoryLayout {
    pub const fn name(self) -> &'static str {
        match self {
            MemoryLayout::Interleaved => "INTERLEAVED",
            MemoryLayout::HeightSharded => "HEIGHT_SHARDED",
            MemoryLayout::WidthSharded => "WIDTH_SHARDED",
            MemoryLayout::BlockSharded => "BLOCK_SHARDED",
        }
    }

    pub fn from_u32(v: u32) -> Option<MemoryLayout> {
        [
            MemoryLayout::Interleaved,
            MemoryLayout::HeightSharded,
            MemoryLayout::WidthSharded,
            MemoryLayout::BlockSharded,
        ]
        .into_iter()
        .find(|l| *l as u32 == v)
    }

    pub const fn is_sharded(self) -> bool {
        !matches!(self, MemoryLayout::Interleaved)
    }
}

impl ShardOrientation {
    pub const fn name(self) -> &'static str {
        match self {
            ShardOrientation::RowMajor => "ROW_MAJOR",
            ShardOrientation::ColMajor => "COL_MAJOR",
        }
    }

    pub fn from_u32(v: u32) -> Option<ShardOrientation> {
        [ShardOrientation::RowMajor, ShardOrientation::ColMajor]
            .into_iter()
            .find(|o| *o as u32 == v)
    }
}

impl fmt::Display for TensorLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for MemoryLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for ShardOrientation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rectangle of cores, `(x, y)` corners inclusive. For DRAM sharding x is the DRAM bank and
/// y is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CoreRange {
    pub start: (u32, u32),
    pub end: (u32, u32),
}

impl CoreRange {
    /// Cores along x and y (0 when `start` is past `end`).
    pub fn size(&self) -> (u32, u32) {
        let span = |a: u32, b: u32| if b >= a { b - a + 1 } else { 0 };
        (
            span(self.start.0, self.end.0),
            span(self.start.1, self.end.1),
        )
    }
}

impl fmt::Display for CoreRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "({}, {})-({}, {})",
            self.start.0, self.start.1, self.end.0, self.end.1
        )
    }
}

/// The shard of a sharded buffer: the cores it is spread over and the shape of one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShardSpec {
    pub grid: CoreRange,
    /// `[height, width]` in elements.
    pub shape: [u32; 2],
    pub orientation: ShardOrientation,
}

/// The banks a device has, as far as page placement cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BankGeometry {
    pub dram_banks: u32,
    /// Tensix cores along x and y; the L1 bank of core (x, y) is `y * x_count + x`.
    pub compute_grid: (u32, u32),
    pub dram_alignment: u64,
    pub l1_alignment: u64,
}

/// What is wrong with a requested buffer layout. Each variant names expected and found values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// A count or alignment of the bank geometry is zero.
    Geometry { field: &'static str },
    /// A zero dimension in the tensor shape.
    EmptyShape { shape: [u32; 4] },
    /// TILE layout with a height or width that is not a multiple of 32.
    NotTileAligned {
        shape: [u32; 4],
        height: u64,
        width: u32,
    },
    /// A block-float format in ROW_MAJOR layout.
    BlockFloatRowMajor { format: DataFormat },
    /// A sharded layout without a shard spec.
    MissingShardSpec { layout: MemoryLayout },
    /// An interleaved layout with a shard spec.
    UnexpectedShardSpec,
    /// A shard shape with a zero dimension.
    EmptyShard { shard: [u32; 2] },
    /// A shard shape that is not a whole number of pages.
    ShardNotPageMultiple { shard: [u32; 2], page: [u32; 2] },
    /// A height/width-sharded shard that does not span the tensor's width/height.
    ShardSpan {
        layout: MemoryLayout,
        dimension: &'static str,
        expected: u64,
        found: u32,
    },
    /// A shard grid whose start is past its end.
    InvertedGrid { grid: CoreRange },
    /// An L1 shard grid outside the compute grid.
    GridOutsideComputeGrid {
        grid: CoreRange,
        compute_grid: (u32, u32),
    },
    /// A DRAM shard grid that is not a row of DRAM banks.
    GridOutsideDramBanks { grid: CoreRange, dram_banks: u32 },
    /// More height or width shards than cores in the grid.
    TooManyShards { shards: u32, cores: u32 },
    /// A block-sharded tensor whose shard rows or columns exceed the grid.
    BlockShardsDoNotFit {
        shard_rows: u32,
        shard_columns: u32,
        grid: (u32, u32),
        orientation: ShardOrientation,
    },
    /// A size or count that does not fit its integer type.
    TooLarge { what: &'static str },
    /// A DRAM grid with more than one row (persistent DRAM tensors).
    DramGridNot1D { grid: (u32, u32) },
    /// A DRAM grid with no banks in x, or more than any supported chip has.
    DramGridOutOfRange { x: u32, max: u32 },
    /// A shard strategy persistent DRAM tensors do not use.
    UnsupportedShardStrategy { found: MemoryLayout },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LayoutError::Geometry { field } => {
                write!(
                    f,
                    "bank geometry field `{field}` must be at least 1, found 0"
                )
            }
            LayoutError::EmptyShape { shape } => {
                write!(f, "tensor shape {shape:?} has a zero dimension")
            }
            LayoutError::NotTileAligned {
                shape,
                height,
                width,
            } => write!(
                f,
                "TILE layout needs a height and width that are multiples of 32: shape {shape:?} \
                 is {height} x {width}"
            ),
            LayoutError::BlockFloatRowMajor { format } => write!(
                f,
                "{format} is a block-float format and has no ROW_MAJOR layout: expected TILE"
            ),
            LayoutError::MissingShardSpec { layout } => {
                write!(f, "a {layout} buffer needs a shard spec, found none")
            }
            LayoutError::UnexpectedShardSpec => write!(
                f,
                "an INTERLEAVED buffer takes no shard spec: expected none, found one"
            ),
            LayoutError::EmptyShard { shard } => {
                write!(f, "shard shape {shard:?} has a zero dimension")
            }
            LayoutError::ShardNotPageMultiple { shard, page } => write!(
                f,
                "shard shape {shard:?} is not a multiple of the page shape {page:?}"
            ),
            LayoutError::ShardSpan {
                layout,
                dimension,
                expected,
                found,
            } => write!(
                f,
                "{layout} shard {dimension} must be the tensor's {dimension} {expected}, found \
                 {found}"
            ),
            LayoutError::InvertedGrid { grid } => {
                write!(f, "shard grid {grid} has its start past its end")
            }
            LayoutError::GridOutsideComputeGrid { grid, compute_grid } => write!(
                f,
                "L1 shard grid {grid} lies outside the {} x {} compute grid",
                compute_grid.0, compute_grid.1
            ),
            LayoutError::GridOutsideDramBanks { grid, dram_banks } => write!(
                f,
                "DRAM shard grid {grid} must have y = 0 and x below the {dram_banks} DRAM banks"
            ),
            LayoutError::TooManyShards { shards, cores } => write!(
                f,
                "{shards} shards do not fit the {cores} cores of the shard grid"
            ),
            LayoutError::BlockShardsDoNotFit {
                shard_rows,
                shard_columns,
                grid,
                orientation,
            } => write!(
                f,
                "{shard_rows} x {shard_columns} block shards (rows x columns) do not fit the \
                 {} x {} shard grid with {orientation} orientation",
                grid.0, grid.1
            ),
            LayoutError::TooLarge { what } => write!(f, "{what} is too large"),
            LayoutError::DramGridNot1D { grid } => write!(
                f,
                "only a 1D DRAM grid is supported (dram_grid_y must be 1): expected {} x 1, \
                 found {} x {}",
                grid.0, grid.0, grid.1
            ),
            LayoutError::DramGridOutOfRange { x, max } => write!(
                f,
                "dram_grid_x is {x}: it must be 1 to {max} (the most DRAM banks of any supported \
                 chip)"
            ),
            LayoutError::UnsupportedShardStrategy { found } => write!(
                f,
                "persistent DRAM tensors are WIDTH_SHARDED or HEIGHT_SHARDED, found {found}"
            ),
        }
    }
}

/// Where the shards of a sharded buffer go. All counts are in pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ShardMap {
    /// Page columns of the whole tensor.
    tensor_page_columns: u32,
    /// Page rows and columns of one full shard.
    shard_page_rows: u32,
    shard_page_columns: u32,
    /// Shards across the tensor's width.
    shard_columns: u32,
    grid_start: (u32, u32),
    grid_size: (u32, u32),
    orientation: ShardOrientation,
    block: bool,
    /// Cores along x of the compute grid, for L1 bank ids; `None` for DRAM (bank = x).
    l1_grid_x: Option<u32>,
}

impl ShardMap {
    /// The core (or DRAM bank, y = 0) holding shard row `row`, shard column `column`.
    ///
    /// Arithmetic here and in `locate` wraps: for a page inside the buffer nothing overflows
    /// (the grid was checked), and a page past the end must give a meaningless location, not a
    /// panic.
    #[inline]
    fn core(&self, row: u32, column: u32) -> (u32, u32) {
        let (sx, sy) = self.grid_start;
        let (gx, gy) = self.grid_size;
        match (self.block, self.orientation) {
            (true, ShardOrientation::RowMajor) => (sx.wrapping_add(column), sy.wrapping_add(row)),
            (true, ShardOrientation::ColMajor) => (sx.wrapping_add(row), sy.wrapping_add(column)),
            (false, orientation) => {
                // Height or width sharding: one of row/column is always 0.
                let k = row.wrapping_mul(self.shard_columns).wrapping_add(column);
                match orientation {
                    ShardOrientation::RowMajor => (sx + k % gx, sy.wrapping_add(k / gx)),
                    ShardOrientation::ColMajor => (sx.wrapping_add(k / gy), sy + k % gy),
                }
            }
        }
    }

    #[inline]
    fn locate(&self, page: u32) -> (u32, u64) {
        let page_row = page / self.tensor_page_columns;
        let page_column = page % self.tensor_page_columns;
        let (x, y) = self.core(
            page_row / self.shard_page_rows,
            page_column / self.shard_page_columns,
        );
        let bank = match self.l1_grid_x {
            Some(grid_x) => y.wrapping_mul(grid_x).wrapping_add(x),
            None => x,
        };
        let in_shard = u64::from(page_row % self.shard_page_rows)
            * u64::from(self.shard_page_columns)
            + u64::from(page_column % self.shard_page_columns);
        (bank, in_shard)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    Interleaved { banks: u32 },
    Sharded(ShardMap),
}

/// The pages of a buffer and where each lives: everything needed to allocate the buffer and to
/// read or write any page of it, computed once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferLayout {
    shape: [u32; 4],
    format: DataFormat,
    layout: TensorLayout,
    ty: BufferType,
    memory_layout: MemoryLayout,
    shard: Option<ShardSpec>,
    page_size: u64,
    aligned_page_size: u64,
    num_pages: u32,
    banks: u32,
    size_per_bank: u64,
    placement: Placement,
}

impl BufferLayout {
    /// Checks the request and computes the page layout.
    #[inline]
    pub fn new(
        shape: [u32; 4],
        format: DataFormat,
        layout: TensorLayout,
        ty: BufferType,
        mem: MemoryLayout,
        shard: Option<ShardSpec>,
        geometry: BankGeometry,
    ) -> Result<BufferLayout, LayoutError> {
        let too_large = |what| LayoutError::TooLarge { what };
        for (field, zero) in [
            ("dram_banks", geometry.dram_banks == 0),
            ("compute_grid.x", geometry.compute_grid.0 == 0),
            ("compute_grid.y", geometry.compute_grid.1 == 0),
            ("dram_alignment", geometry.dram_alignment == 0),
            ("l1_alignment", geometry.l1_alignment == 0),
        ] {
            if zero {
                return Err(LayoutError::Geometry { field });
            }
        }
        if shape.contains(&0) {
            return Err(LayoutError::EmptyShape { shape });
        }
        let height = flattened_height(shape).ok_or(too_large("tensor height"))?;
        let width = shape[3];
        match layout {
            TensorLayout::Tile => {
                if height % u64::from(TILE) != 0 || width % TILE != 0 {
                    return Err(LayoutError::NotTileAligned {
                        shape,
                        height,
                        width,
                    });
                }
            }
            TensorLayout::RowMajor => {
                if format.is_block_float() {
                    return Err(LayoutError::BlockFloatRowMajor { format });
                }
            }
        }
        let shard = match (mem.is_sharded(), shard) {
            (true, None) => return Err(LayoutError::MissingShardSpec { layout: mem }),
            (false, Some(_)) => return Err(LayoutError::UnexpectedShardSpec),
            (_, s) => s,
        };
        let alignment = if ty.is_dram() {
            geometry.dram_alignment
        } else {
            geometry.l1_alignment
        };
        let element_bytes = (format.device_bits() / 8) as u64;
        // Page shape [rows, columns] in elements.
        let page_shape = match (layout, shard) {
            (TensorLayout::Tile, _) => [TILE, TILE],
            (TensorLayout::RowMajor, None) => [1, width],
            (TensorLayout::RowMajor, Some(s)) => [1, s.shape[1]],
        };
        let page_size = match layout {
            TensorLayout::Tile => {
                tile_size_bytes(format, Arch::WormholeB0, TileDim::FULL, true) as u64
            }
            TensorLayout::RowMajor => u64::from(page_shape[1]) * element_bytes,
        };
        let aligned_page_size = page_size
            .checked_next_multiple_of(alignment)
            .ok_or(too_large("aligned page size"))?;
        // Page rows and columns of the whole tensor (a ROW_MAJOR shard row may be partial).
        let tensor_page_rows = height / u64::from(page_shape[0]);
        let tensor_page_columns = width.div_ceil(page_shape[1].max(1));
        let num_pages = tensor_page_rows
            .checked_mul(u64::from(tensor_page_columns))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(too_large("number of pages"))?;
        // `total_size()` multiplies these unchecked.
        page_size
            .checked_mul(u64::from(num_pages))
            .ok_or(too_large("buffer size"))?;

        let (banks, size_per_bank, placement) = match shard {
            None => {
                let banks = if ty.is_dram() {
                    geometry.dram_banks
                } else {
                    geometry
                        .compute_grid
                        .0
                        .checked_mul(geometry.compute_grid.1)
                        .ok_or(too_large("compute grid"))?
                };
                let pages_per_bank = num_pages.div_ceil(banks);
                let size_per_bank = u64::from(pages_per_bank)
                    .checked_mul(aligned_page_size)
                    .ok_or(too_large("size per bank"))?;
                (banks, size_per_bank, Placement::Interleaved { banks })
            }
            Some(spec) => {
                let map = shard_map(
                    spec,
                    mem,
                    ty,
                    geometry,
                    [height, u64::from(width)],
                    page_shape,
                    [tensor_page_rows, u64::from(tensor_page_columns)],
                )?;
                let shard_rows = tensor_page_rows.div_ceil(u64::from(map.shard_page_rows));
                // Fits in u32: checked against the grid in shard_map.
                let shards = (shard_rows * u64::from(map.shard_columns)) as u32;
                let pages_per_shard =
                    u64::from(map.shard_page_rows) * u64::from(map.shard_page_columns);
                let size_per_bank = pages_per_shard
                    .checked_mul(aligned_page_size)
                    .ok_or(too_large("shard size"))?;
                (shards, size_per_bank, Placement::Sharded(map))
            }
        };
        Ok(BufferLayout {
            shape,
            format,
            layout,
            ty,
            memory_layout: mem,
            shard,
            page_size,
            aligned_page_size,
            num_pages,
            banks,
            size_per_bank,
            placement,
        })
    }

    pub fn shape(&self) -> [u32; 4] {
        self.shape
    }

    pub fn format(&self) -> DataFormat {
        self.format
    }

    pub fn tensor_layout(&self) -> TensorLayout {
        self.layout
    }

    pub fn buffer_type(&self) -> BufferType {
        self.ty
    }

    pub fn memory_layout(&self) -> MemoryLayout {
        self.memory_layout
    }

    pub fn shard_spec(&self) -> Option<ShardSpec> {
        self.shard
    }

    /// Bytes of one page's data.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Bytes one page takes in its bank (the page size rounded up to the buffer type's
    /// alignment).
    pub fn aligned_page_size(&self) -> u64 {
        self.aligned_page_size
    }

    pub fn num_pages(&self) -> u32 {
        self.num_pages
    }

    /// Bytes the buffer needs in each bank it spans.
    pub fn size_per_bank(&self) -> u64 {
        self.size_per_bank
    }

    /// Bytes of page data in the buffer: `page_size * num_pages`.
    pub fn total_size(&self) -> u64 {
        // Checked in `new`.
        self.page_size * u64::from(self.num_pages)
    }

    /// Banks the allocation spans: the bank count when interleaved, the number of shards when
    /// sharded.
    pub fn banks(&self) -> u32 {
        self.banks
    }

    /// The bank holding `page` and its offset from the buffer's address. O(1). For a page at
    /// or past [`num_pages`](Self::num_pages) the result is meaningless (but computing it is
    /// safe); use [`checked_page_location`](Self::checked_page_location) for untrusted input.
    #[inline]
    pub fn page_location(&self, page: u32) -> (u32, u64) {
        match self.placement {
            Placement::Interleaved { banks } => (
                page % banks,
                // Wraps only for pages past the end (see `checked_page_location`).
                u64::from(page / banks).wrapping_mul(self.aligned_page_size),
            ),
            Placement::Sharded(map) => {
                let (bank, index) = map.locate(page);
                (bank, index * self.aligned_page_size)
            }
        }
    }

    /// [`page_location`](Self::page_location), or `None` for a page past the end.
    pub fn checked_page_location(&self, page: u32) -> Option<(u32, u64)> {
        (page < self.num_pages).then(|| self.page_location(page))
    }
}

/// `shape[0] * shape[1] * shape[2]`, the rows of the 2D view; `None` on overflow.
fn flattened_height(shape: [u32; 4]) -> Option<u64> {
    u64::from(shape[0])
        .checked_mul(u64::from(shape[1]))?
        .checked_mul(u64::from(shape[2]))
}

/// Checks a shard spec against the tensor and the banks and works out where its shards go.
/// `tensor` is `[H, W]` in elements, `pages` the tensor's page rows and columns.
fn shard_map(
    spec: ShardSpec,
    mem: MemoryLayout,
    ty: BufferType,
    geometry: BankGeometry,
    tensor: [u64; 2],
    page_shape: [u32; 2],
    pages: [u64; 2],
) -> Result<ShardMap, LayoutError> {
    let [shard_h, shard_w] = spec.shape;
    if shard_h == 0 || shard_w == 0 {
        return Err(LayoutError::EmptyShard { shard: spec.shape });
    }
    if shard_h % page_shape[0] != 0 || shard_w % page_shape[1] != 0 {
        return Err(LayoutError::ShardNotPageMultiple {
            shard: spec.shape,
            page: page_shape,
        });
    }
    match mem {
        MemoryLayout::HeightSharded if u64::from(shard_w) != tensor[1] => {
            return Err(LayoutError::ShardSpan {
                layout: mem,
                dimension: "width",
                expected: tensor[1],
                found: shard_w,
            })
        }
        MemoryLayout::WidthSharded if u64::from(shard_h) != tensor[0] => {
            return Err(LayoutError::ShardSpan {
                layout: mem,
                dimension: "height",
                expected: tensor[0],
                found: shard_h,
            })
        }
        _ => {}
    }

    let grid = spec.grid;
    if grid.start.0 > grid.end.0 || grid.start.1 > grid.end.1 {
        return Err(LayoutError::InvertedGrid { grid });
    }
    let l1_grid_x = if ty.is_dram() {
        if grid.start.1 != 0 || grid.end.1 != 0 || grid.end.0 >= geometry.dram_banks {
            return Err(LayoutError::GridOutsideDramBanks {
                grid,
                dram_banks: geometry.dram_banks,
            });
        }
        None
    } else {
        if grid.end.0 >= geometry.compute_grid.0 || grid.end.1 >= geometry.compute_grid.1 {
            return Err(LayoutError::GridOutsideComputeGrid {
                grid,
                compute_grid: geometry.compute_grid,
            });
        }
        Some(geometry.compute_grid.0)
    };
    let grid_size = grid.size();

    let shard_page_rows = shard_h / page_shape[0];
    let shard_page_columns = shard_w / page_shape[1];
    let shard_rows = pages[0].div_ceil(u64::from(shard_page_rows));
    let shard_columns = pages[1].div_ceil(u64::from(shard_page_columns));
    let saturate = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    let block = mem == MemoryLayout::BlockSharded;
    if block {
        let (x_shards, y_shards) = match spec.orientation {
            ShardOrientation::RowMajor => (shard_columns, shard_rows),
            ShardOrientation::ColMajor => (shard_rows, shard_columns),
        };
        if x_shards > u64::from(grid_size.0) || y_shards > u64::from(grid_size.1) {
            return Err(LayoutError::BlockShardsDoNotFit {
                shard_rows: saturate(shard_rows),
                shard_columns: saturate(shard_columns),
                grid: grid_size,
                orientation: spec.orientation,
            });
        }
    } else {
        // One of the two is 1: the shard spans the other dimension.
        let shards = shard_rows * shard_columns;
        let cores = u64::from(grid_size.0) * u64::from(grid_size.1);
        if shards > cores {
            return Err(LayoutError::TooManyShards {
                shards: saturate(shards),
                cores: saturate(cores),
            });
        }
    }
    Ok(ShardMap {
        // Both fit in u32: columns are at most W, shards at most the grid's cores.
        tensor_page_columns: pages[1] as u32,
        shard_page_rows,
        shard_page_columns,
        shard_columns: shard_columns as u32,
        grid_start: grid.start,
        grid_size,
        orientation: spec.orientation,
        block,
        l1_grid_x,
    })
}

/// The most DRAM banks any supported chip has (Grayskull and Blackhole: 8, Wormhole B0: 6, per
/// [`crate::hal::ChipGeometry::of`]): the largest DRAM grid x
/// [`persistent_dram_memory_config`] accepts.
pub(crate) const MAX_DRAM_BANKS: u32 = max_dram_banks();

const fn max_dram_banks() -> u32 {
    let mut max = 0;
    let archs = [Arch::Grayskull, Arch::WormholeB0, Arch::Blackhole];
    let mut i = 0;
    while i < archs.len() {
        let banks = crate::hal::ChipGeometry::of(archs[i]).dram_channels;
        if banks > max {
            max = banks;
        }
        i += 1;
    }
    max
}

/// The DRAM memory config of a persistent input or output tensor of the TT-CNN pipeline,
/// after upstream TT-CNN's `get_memory_config_for_persistent_dram_tensor`.
///
/// What upstream does, and ttrt with it: the DRAM grid must be one row (`y == 1`, else an
/// error); the sharded dimension (the width for WIDTH_SHARDED, the height for HEIGHT_SHARDED,
/// in elements) is split over the largest number of DRAM banks `n <= grid.x` that divides it
/// evenly, because uneven shards did not survive host transfers upstream; the shard grid is
/// banks `(0, 0)-(n - 1, 0)`, ROW_MAJOR orientation; the shard is `[H, W / n]` or `[H / n, W]`.
/// Any other strategy is an error. A `(2, 1)` grid and a `[1, 1, 64, 64]` tensor give
/// `[64, 32]` width-sharded and `[32, 64]` height-sharded.
///
/// Where ttrt decides: the height is the flattened `shape[0] * shape[1] * shape[2]` (upstream
/// takes `shape[-2]`, which only agrees when the outer dimensions are 1 and otherwise yields a
/// spec with more shards than banks); a zero dimension or a grid with no banks is an error
/// (upstream divides by zero or returns empty shards), and so is a grid wider than the 8 DRAM
/// banks of the widest supported chip (upstream takes the grid from the device, which cannot
/// have more). Like upstream the split is in elements, not tiles, so for TILE tensors the shard
/// may not be tile-aligned and [`BufferLayout::new`] then rejects it; upstream's pipeline uses
/// ROW_MAJOR inputs.
pub fn persistent_dram_memory_config(
    shape: [u32; 4],
    strategy: MemoryLayout,
    dram_grid: (u32, u32),
) -> Result<(MemoryLayout, ShardSpec), LayoutError> {
    if dram_grid.1 != 1 {
        return Err(LayoutError::DramGridNot1D { grid: dram_grid });
    }
    if dram_grid.0 == 0 || dram_grid.0 > MAX_DRAM_BANKS {
        return Err(LayoutError::DramGridOutOfRange {
            x: dram_grid.0,
            max: MAX_DRAM_BANKS,
        });
    }
    if shape.contains(&0) {
        return Err(LayoutError::EmptyShape { shape });
    }
    let height = flattened_height(shape)
        .and_then(|h| u32::try_from(h).ok())
        .ok_or(LayoutError::TooLarge {
            what: "tensor height",
        })?;
    let width = shape[3];
    let split = match strategy {
        MemoryLayout::WidthSharded => width,
        MemoryLayout::HeightSharded => height,
        other => return Err(LayoutError::UnsupportedShardStrategy { found: other }),
    };
    // 1 always divides, so this finds a count.
    let banks = (1..=dram_grid.0.min(split))
        .rev()
        .find(|n| split % n == 0)
        .unwrap_or(1);
    let shard = if strategy == MemoryLayout::WidthSharded {
        [height, width / banks]
    } else {
        [height / banks, width]
    };
    Ok((
        strategy,
        ShardSpec {
            grid: CoreRange {
                start: (0, 0),
                end: (banks - 1, 0),
            },
            shape: shard,
            orientation: ShardOrientation::RowMajor,
        },
    ))
}
