/*
 * tt_backend_api_types.hpp - Buda's backend API types (tt-budabackend's netlist/
 * tt_backend_api_types.hpp), header-only over ttrt's C API (ttrt.h).
 *
 * Part of ttrt's Buda C++ API: tt_backend.hpp, tt_backend_api.hpp, tt_backend_api_types.hpp and
 * io_utils.h let a program written against Buda's backend (such as PyBuda's embedded TTI loader)
 * build unchanged against ttrt. Enum values equal Buda's. Everything here is inline; libttrt
 * itself has no C++ in it. Requires C++17.
 *
 * Errors: where Buda throws (creating an image or a backend, get_queue_descriptor), these
 * throw std::runtime_error carrying ttrt's one-line message. Where Buda returns a
 * DEVICE_STATUS_CODE and logs, these return it and hand the message to the error handler
 * (ttrt::buda::set_error_handler; by default one line on std::cerr); the last message of the
 * calling thread is also in ttrt::buda::last_error().
 */
#ifndef TTRT_BUDA_TT_BACKEND_API_TYPES_HPP
#define TTRT_BUDA_TT_BACKEND_API_TYPES_HPP

#include <ttrt.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#if __cplusplus < 201703L
#error "ttrt's Buda C++ API needs C++17"
#endif

//! A core's coordinates (Buda's device/tt_xy_pair.h).
struct tt_xy_pair {
    std::size_t x = 0;
    std::size_t y = 0;
    constexpr tt_xy_pair() = default;
    constexpr tt_xy_pair(std::size_t x_, std::size_t y_) : x(x_), y(y_) {}
    std::string str() const { return "(x=" + std::to_string(x) + ",y=" + std::to_string(y) + ")"; }
};
constexpr bool operator==(const tt_xy_pair &a, const tt_xy_pair &b) { return a.x == b.x && a.y == b.y; }
constexpr bool operator!=(const tt_xy_pair &a, const tt_xy_pair &b) { return !(a == b); }
constexpr bool operator<(const tt_xy_pair &a, const tt_xy_pair &b) {
    return a.x < b.x || (a.x == b.x && a.y < b.y);
}
template <>
struct std::hash<tt_xy_pair> {
    std::size_t operator()(const tt_xy_pair &p) const noexcept {
        return std::hash<std::size_t>()(p.x) ^ (std::hash<std::size_t>()(p.y) << 1);
    }
};

namespace tt {

static constexpr std::uint32_t PY_TENSOR_DIMS = 4;
static constexpr std::uint32_t unmapped_logical_coordinate = 255;

//! Chip generation, with the values of the tt-umd Buda was built with.
enum class ARCH {
    JAWBRIDGE = 0,
    GRAYSKULL = 1,
    WORMHOLE = 2,
    WORMHOLE_B0 = 3,
    BLACKHOLE = 4,
    Invalid = 0xFF,
};

enum class TileDim : std::uint8_t {
    Dim32x32 = 0,
    Dim16x32 = 1,
    Dim32x16 = 2,
    Dim8x32 = 3,
    Dim4x32 = 4,
    Dim2x32 = 5,
    Dim1x32 = 6,
    Default = Dim32x32,
    Invalid = 0xff
};

//! Tensix data formats; the values are ttrt_data_format's, which are Buda's.
enum class DataFormat : std::uint8_t {
    Float32 = TTRT_DATA_FORMAT_FLOAT32,
    Float16 = TTRT_DATA_FORMAT_FLOAT16,
    Bfp8 = TTRT_DATA_FORMAT_BFP8,
    Bfp4 = TTRT_DATA_FORMAT_BFP4,
    Bfp2 = TTRT_DATA_FORMAT_BFP2,
    Float16_b = TTRT_DATA_FORMAT_FLOAT16_B,
    Bfp8_b = TTRT_DATA_FORMAT_BFP8_B,
    Bfp4_b = TTRT_DATA_FORMAT_BFP4_B,
    Bfp2_b = TTRT_DATA_FORMAT_BFP2_B,
    Lf8 = TTRT_DATA_FORMAT_LF8,
    Fp8_e4m3 = TTRT_DATA_FORMAT_FP8_E4M3,
    UInt16 = TTRT_DATA_FORMAT_UINT16,
    Int8 = TTRT_DATA_FORMAT_INT8,
    UInt8 = TTRT_DATA_FORMAT_UINT8,
    Tf32 = TTRT_DATA_FORMAT_TF32,
    Int32 = TTRT_DATA_FORMAT_INT32,
    RawUInt8 = TTRT_DATA_FORMAT_RAW_UINT8,
    RawUInt16 = TTRT_DATA_FORMAT_RAW_UINT16,
    RawUInt32 = TTRT_DATA_FORMAT_RAW_UINT32,
    Invalid = TTRT_DATA_FORMAT_INVALID
};

inline bool is_tt_data_format(DataFormat format) {
    switch (format) {
        case DataFormat::Bfp2:
        case DataFormat::Bfp2_b:
        case DataFormat::Bfp4:
        case DataFormat::Bfp4_b:
        case DataFormat::Bfp8:
        case DataFormat::Bfp8_b:
        case DataFormat::Lf8: return true;
        default: return false;
    }
}

inline bool is_integer_format(DataFormat format) {
    switch (format) {
        case DataFormat::Int32:
        case DataFormat::Int8:
        case DataFormat::UInt16:
        case DataFormat::UInt8:
        case DataFormat::RawUInt32:
        case DataFormat::RawUInt16:
        case DataFormat::RawUInt8: return true;
        default: return false;
    }
}

inline const char *format_name(DataFormat format) {
    switch (format) {
        case DataFormat::Float32: return "Float32";
        case DataFormat::Float16: return "Float16";
        case DataFormat::Bfp8: return "Bfp8";
        case DataFormat::Bfp4: return "Bfp4";
        case DataFormat::Bfp2: return "Bfp2";
        case DataFormat::Float16_b: return "Float16_b";
        case DataFormat::Bfp8_b: return "Bfp8_b";
        case DataFormat::Bfp4_b: return "Bfp4_b";
        case DataFormat::Bfp2_b: return "Bfp2_b";
        case DataFormat::Lf8: return "Lf8";
        case DataFormat::Fp8_e4m3: return "Fp8_e4m3";
        case DataFormat::UInt16: return "UInt16";
        case DataFormat::Int8: return "Int8";
        case DataFormat::UInt8: return "UInt8";
        case DataFormat::Tf32: return "Tf32";
        case DataFormat::Int32: return "Int32";
        case DataFormat::RawUInt8: return "RawUInt8";
        case DataFormat::RawUInt16: return "RawUInt16";
        case DataFormat::RawUInt32: return "RawUInt32";
        case DataFormat::Invalid: return "Invalid";
    }
    return nullptr;
}

inline std::ostream &operator<<(std::ostream &os, const DataFormat &format) {
    const char *name = format_name(format);
    if (name == nullptr) {
        throw std::invalid_argument("Unknown format");
    }
    return os << name;
}

enum class MathFidelity : std::uint8_t {
    LoFi = 0,
    HiFi2 = 2,
    HiFi3 = 3,
    HiFi4 = 4,
    HiFi2_A = 2,
    HiFi2_B = 10,
    Invalid = 0xff,
};

//! Backend device types. ttrt runs every one it accepts on its own device: Golden selects its
//! golden numerics (ttrt_backend_config.golden), Silicon, Versim and Emulation its device
//! numerics; Model and StaticAnalyzer are refused.
enum class DEVICE {
    Model = 0,
    Versim = 1,
    Silicon = 2,
    Golden = 3,
    StaticAnalyzer = 4,
    Emulation = 5,
    Invalid = 0xFF,
};

enum class DEVICE_MODE {
    CompileAndRun = 0,
    CompileOnly = 1,
    RunOnly = 2,
};

enum class DEVICE_STATUS_CODE {
    Success = 0,       //!< The call did what it was asked.
    RuntimeError = 1,  //!< Anything else that went wrong (the message says what).
    TimeoutError = 2   //!< A queue stayed full or empty for the whole timeout.
};

enum class OWNERSHIP { Frontend = 0, Backend = 1 };

enum class COMPILE_FAILURE {
    BriscCompile = 0,
    EriscCompile = 1,
    NriscCompile = 2,
    Net2Pipe = 3,
    PipeGen = 4,
    BlobGen = 5,
    L1Size = 6,
    OverlaySize = 7,
    Firmware = 8,
    Invalid = 0xFFFF,
};

//! What initialize(tt_compile_result *) reports. ttrt compiles nothing: a failed initialize
//! sets success to false and failure_message to ttrt's message.
struct tt_compile_result {
    bool success = true;
    COMPILE_FAILURE failure_type = COMPILE_FAILURE::Invalid;
    std::string failure_message = "";
    std::string failure_target = "";
    std::string get_string() const { return success ? "success" : "failure: " + failure_message; }
};

enum class IO_TYPE {
    Queue = 0,
    RandomAccess = 1,
    Invalid = 2,
};

enum class IO_LAYOUT {
    Tilized = 0,
    Flat = 1,
    Invalid = 2,
};

enum class MemBarType {
    host_cluster = 0,
    device_device = 1,
    host_device_dram = 2,
    host_device_l1 = 3,
};

struct tt_device_image;
struct tt_dram_io_desc;

}  // namespace tt

namespace ttrt::buda {

/// Where the messages of failed calls go: `handler(message)` for each, on the calling thread
/// (nullptr: nowhere). The default writes the line to std::cerr.
inline void set_error_handler(std::function<void(const std::string &)> handler);

/// The message of the last failed call on this thread ("" if none).
inline const std::string &last_error();

namespace detail {

struct error_sink {
    std::mutex mutex;
    std::function<void(const std::string &)> handler = [](const std::string &m) {
        std::cerr << "ttrt: " << m << std::endl;
    };
};

inline error_sink &sink() {
    static error_sink s;
    return s;
}

inline std::string &thread_last_error() {
    thread_local std::string last;
    return last;
}

/// Records `message` as this thread's last error; hands it to the handler when `log`.
inline void report(const std::string &message, bool log = true) {
    thread_last_error() = message;
    if (!log) {
        return;
    }
    std::function<void(const std::string &)> handler;
    {
        std::lock_guard<std::mutex> lock(sink().mutex);
        handler = sink().handler;
    }
    if (handler) {
        handler(message);
    }
}

inline std::string c_error() { return std::string(ttrt_last_error_message()); }

/// Buda's status for a ttrt status; failures are reported (a timeout quietly, as Buda logs it
/// at debug level only).
inline tt::DEVICE_STATUS_CODE status(ttrt_status st) {
    switch (st) {
        case TTRT_STATUS_SUCCESS: return tt::DEVICE_STATUS_CODE::Success;
        case TTRT_STATUS_TIMEOUT: report(c_error(), false); return tt::DEVICE_STATUS_CODE::TimeoutError;
        default: report(c_error()); return tt::DEVICE_STATUS_CODE::RuntimeError;
    }
}

/// A failure this layer finds itself (`func: what`).
inline tt::DEVICE_STATUS_CODE fail(const std::string &message) {
    report(message);
    return tt::DEVICE_STATUS_CODE::RuntimeError;
}

[[noreturn]] inline void throw_c_error() { throw std::runtime_error(c_error()); }

struct backend_state;

}  // namespace detail

inline void set_error_handler(std::function<void(const std::string &)> handler) {
    std::lock_guard<std::mutex> lock(detail::sink().mutex);
    detail::sink().handler = std::move(handler);
}

inline const std::string &last_error() { return detail::thread_last_error(); }

}  // namespace ttrt::buda

namespace tt {

//! A compiled model (Buda's common/tti_lib.hpp): a .tti archive, or with ttrt a bare netlist
//! .yaml too, opened in place (nothing is extracted; `output_path` is kept but not written).
//! As Buda's, opening applies the image's compile_and_runtime_config.json to the environment,
//! never overriding a variable already set.
struct tt_device_image {
    tt_device_image(const std::string &tti_path, const std::string &output_dir = "tt_build/tti")
        : output_path(output_dir), path(tti_path) {
        if (ttrt_image_open(tti_path.c_str(), &image) != TTRT_STATUS_SUCCESS) {
            ttrt::buda::detail::throw_c_error();
        }
        if (ttrt_image_apply_runtime_config(image, nullptr) != TTRT_STATUS_SUCCESS) {
            std::string message = ttrt::buda::detail::c_error();
            ttrt_image_free(image);
            throw std::runtime_error(message);
        }
    }
    tt_device_image() = delete;
    tt_device_image(tt_device_image const &) = delete;
    void operator=(tt_device_image const &) = delete;
    ~tt_device_image() { ttrt_image_free(image); }

    //! "Grayskull", "Wormhole_B0" or "Blackhole", as device.json names the arch.
    std::string arch() const {
        ttrt_arch a = TTRT_ARCH_WORMHOLE_B0;
        if (ttrt_image_arch(image, &a) != TTRT_STATUS_SUCCESS) {
            ttrt::buda::detail::throw_c_error();
        }
        switch (a) {
            case TTRT_ARCH_GRAYSKULL: return "Grayskull";
            case TTRT_ARCH_WORMHOLE_B0: return "Wormhole_B0";
            case TTRT_ARCH_BLACKHOLE: return "Blackhole";
        }
        throw std::runtime_error("tt_device_image::arch: unknown ttrt_arch " + std::to_string(a));
    }

    //! device.json's devtype ("Silicon", "Golden", ...). Throws for a bare netlist.
    std::string backend() const {
        const char *devtype = ttrt_image_devtype(image);
        if (devtype == nullptr) {
            ttrt::buda::detail::throw_c_error();
        }
        return devtype;
    }

    std::vector<std::string> get_graph_input_names() const {
        return names(ttrt_image_input_count, ttrt_image_input_name);
    }
    std::vector<std::string> get_graph_output_names() const {
        return names(ttrt_image_output_count, ttrt_image_output_name);
    }
    //! Constants, then parameters, each in name order (Buda kept them in std::sets).
    std::vector<std::string> get_graph_constant_and_parameter_names() const {
        std::vector<std::string> constants = names(ttrt_image_constant_count, ttrt_image_constant_name);
        std::vector<std::string> parameters = names(ttrt_image_parameter_count, ttrt_image_parameter_name);
        std::sort(constants.begin(), constants.end());
        std::sort(parameters.begin(), parameters.end());
        constants.insert(constants.end(), parameters.begin(), parameters.end());
        return constants;
    }

    //! ttrt: the path the image was opened from.
    const std::string &get_image_path() const { return path; }
    //! ttrt: the open image.
    const ttrt_image *get_ttrt_image() const { return image; }

   private:
    std::vector<std::string> names(
        std::size_t (*count)(const ttrt_image *), const char *(*name)(const ttrt_image *, std::size_t)) const {
        std::vector<std::string> out;
        std::size_t n = count(image);
        for (std::size_t i = 0; i < n; i++) {
            const char *s = name(image, i);
            if (s == nullptr) {
                ttrt::buda::detail::throw_c_error();
            }
            out.emplace_back(s);
        }
        return out;
    }

    std::string output_path;
    std::string path;
    ttrt_image *image = nullptr;
};

//! How tt_backend::create sets up the backend (Buda's fields). ttrt reads type (Golden: golden
//! numerics; Model and StaticAnalyzer are refused), arch (Invalid: the image's), mode
//! (CompileOnly is refused at initialize: ttrt compiles nothing) and tti. dump_graphs,
//! optimization_level, output_dir, cluster_descriptor_path, ignore_data_format_precision,
//! perf_desc_args, runtime_args and l1_profiler_en tune Buda's compiler, profiler and
//! scheduler and are ignored. soc_descriptor_path is the chip's SoC descriptor (ttrt's
//! `ttrt_backend_config.soc_descriptor`); harvested_rows maps chip 0 to its harvested NOC rows
//! (`ttrt_backend_config.harvested_rows`, bit r for row r); other chips' entries are ignored.
struct tt_backend_config {
    DEVICE type = DEVICE::Invalid;
    ARCH arch = ARCH::Invalid;
    DEVICE_MODE mode = DEVICE_MODE::CompileAndRun;
    bool dump_graphs = false;
    int optimization_level = 0;
    std::string output_dir = "tt_build/test_out";
    std::string soc_descriptor_path = "";
    std::string cluster_descriptor_path = "";
    bool ignore_data_format_precision = false;
    std::string perf_desc_args = "";
    std::string runtime_args = "";
    std::shared_ptr<tt::tt_device_image> tti = nullptr;
    std::unordered_map<int, std::vector<std::uint32_t>> harvested_rows = {};
    bool l1_profiler_en = true;
};

struct Stride {
    std::vector<std::pair<int, int>> xy_offsets = {};
    int stride = -1;
};

//! A queue or ram as the host sees it (Buda's fields), plus what ttrt needs to reach it: the
//! backend it belongs to and ttrt's own descriptor (filled by get_queue_descriptor). A
//! descriptor outliving its backend is refused by the io calls, never dereferenced.
//! bufq_start_addr_channel and bufq_mapping stay empty: ttrt's device is reached through the
//! backend, not mapped into the process.
struct tt_dram_io_desc {
    std::string netlist_path = "";
    std::string queue_name = "";
    std::uint32_t bufq_grid_dim_r = 0;
    std::uint32_t bufq_grid_dim_c = 0;
    std::uint32_t bufq_num_slots = 0;
    std::uint32_t ublock_rt = 0;
    std::uint32_t ublock_ct = 0;
    std::uint32_t mblock_m = 0;
    std::uint32_t mblock_n = 0;
    std::uint32_t tile_height = 0;
    std::uint32_t tile_width = 0;
    std::uint32_t t = 0;
    std::uint32_t input_count = 0;
    std::uint32_t hstack_factor = 1;
    std::uint32_t vstack_factor = 1;
    bool stack_row_major = true;
    DataFormat bufq_target_format = DataFormat::Invalid;
    std::vector<std::pair<std::uint32_t, std::uint16_t>> bufq_start_addr_channel = {};
    std::vector<void *> bufq_mapping = {};
    std::uint32_t bufq_entry_size = 0;
    IO_TYPE io_type = IO_TYPE::Invalid;
    DEVICE backend_type = DEVICE::Invalid;
    Stride s_descriptor;
    IO_LAYOUT layout = IO_LAYOUT::Tilized;

    //! ttrt: the backend this queue belongs to (empty: found by netlist_path).
    std::weak_ptr<ttrt::buda::detail::backend_state> ttrt_backend = {};
    //! ttrt: the queue as ttrt described it (location, ublock order and arch come from here).
    ttrt_io_desc ttrt_queue = {};
};

//! Buda's tilized tensor. ttrt pushes host tensors only: push_input of one of these fails.
struct tt_TilizedTensorDesc {
    const void *ptr = nullptr;
    std::uint32_t num_buffers = 0;
    std::uint32_t buf_size_bytes = 0;
    DataFormat format = DataFormat::Invalid;
    OWNERSHIP owner = OWNERSHIP::Frontend;
    tt_TilizedTensorDesc() = default;
    tt_TilizedTensorDesc(const void *ptr_, std::uint32_t num_buffers_, std::uint32_t buf_size_bytes_, DataFormat format_)
        : ptr(ptr_), num_buffers(num_buffers_), buf_size_bytes(buf_size_bytes_), format(format_) {}
};

//! A host tensor (Buda's tt_PytorchTensorDesc): shape and strides (in bytes) outermost first.
struct tt_PytorchTensorDesc {
    const void *ptr;
    const void *handle;
    std::function<void(const void *, bool)> allocate_callback;
    std::uint32_t itemsize;
    DataFormat format;
    std::array<std::uint32_t, PY_TENSOR_DIMS> shape;
    std::array<std::uint32_t, PY_TENSOR_DIMS> strides;
    unsigned int dim;
    OWNERSHIP owner;

    tt_PytorchTensorDesc()
        : ptr(nullptr),
          handle(nullptr),
          allocate_callback(nullptr),
          itemsize(0),
          format(DataFormat::Invalid),
          shape({}),
          strides({}),
          dim(PY_TENSOR_DIMS),
          owner(OWNERSHIP::Frontend) {}
    tt_PytorchTensorDesc(
        const void *ptr_,
        std::uint32_t itemsize_,
        DataFormat format_,
        std::array<std::uint32_t, PY_TENSOR_DIMS> shape_,
        std::array<std::uint32_t, PY_TENSOR_DIMS> strides_,
        unsigned int dim_,
        const void *handle_ = nullptr,
        std::function<void(const void *, bool)> allocate_callback_ = nullptr)
        : ptr(ptr_),
          handle(handle_),
          allocate_callback(allocate_callback_),
          itemsize(itemsize_),
          format(format_),
          shape(shape_),
          strides(strides_),
          dim(dim_),
          owner(OWNERSHIP::Frontend) {}
    //! As Buda's: a copy takes a reference on the Python object through allocate_callback.
    tt_PytorchTensorDesc(const tt_PytorchTensorDesc &other)
        : ptr(other.ptr),
          handle(other.handle),
          allocate_callback(other.allocate_callback),
          itemsize(other.itemsize),
          format(other.format),
          shape(other.shape),
          strides(other.strides),
          dim(other.dim),
          owner(other.owner) {
        if (allocate_callback != nullptr) {
            allocate_callback(handle, true);
        }
    }
    tt_PytorchTensorDesc &operator=(const tt_PytorchTensorDesc &other) {
        if (this != &other) {
            if (other.allocate_callback != nullptr) {
                other.allocate_callback(other.handle, true);
            }
            if (allocate_callback != nullptr) {
                allocate_callback(handle, false);
            }
            ptr = other.ptr;
            handle = other.handle;
            allocate_callback = other.allocate_callback;
            itemsize = other.itemsize;
            format = other.format;
            shape = other.shape;
            strides = other.strides;
            dim = other.dim;
            owner = other.owner;
        }
        return *this;
    }
    ~tt_PytorchTensorDesc() {
        if (allocate_callback != nullptr) {
            allocate_callback(handle, false);
        }
    }
};

}  // namespace tt

namespace ttrt::buda::detail {

/// One ttrt backend, shared by its tt_backend and (weakly) by the queue descriptors it gave.
struct backend_state {
    ttrt_backend *backend = nullptr;
    std::string netlist_path;
    tt::DEVICE type = tt::DEVICE::Invalid;
    backend_state() = default;
    backend_state(const backend_state &) = delete;
    backend_state &operator=(const backend_state &) = delete;
    ~backend_state() { ttrt_backend_free(backend); }
};

struct backend_registry {
    std::mutex mutex;
    /// The latest backend created for each netlist path (how Buda's io calls find a queue whose
    /// descriptor was built by hand).
    std::map<std::string, std::weak_ptr<backend_state>> by_path;
};

inline backend_registry &registry() {
    static backend_registry r;
    return r;
}

inline void register_backend(const std::shared_ptr<backend_state> &state) {
    std::lock_guard<std::mutex> lock(registry().mutex);
    auto &slots = registry().by_path;
    for (auto it = slots.begin(); it != slots.end();) {
        it = it->second.expired() ? slots.erase(it) : std::next(it);
    }
    slots[state->netlist_path] = state;
}

/// The live backend of `q`, or nullptr with the failure reported (naming `func`).
inline std::shared_ptr<backend_state> backend_of(const tt::tt_dram_io_desc &q, const char *func) {
    std::shared_ptr<backend_state> state = q.ttrt_backend.lock();
    // A weak_ptr never given an owner is ordered neither before nor after an empty one.
    const std::weak_ptr<backend_state> none;
    const bool never_bound = !q.ttrt_backend.owner_before(none) && !none.owner_before(q.ttrt_backend);
    if (!state && never_bound) {
        // Never bound to a backend (built by hand): look the netlist path up.
        std::lock_guard<std::mutex> lock(registry().mutex);
        auto it = registry().by_path.find(q.netlist_path);
        if (it != registry().by_path.end()) {
            state = it->second.lock();
        }
        if (!state) {
            report(std::string(func) + ": queue `" + q.queue_name + "`: no live backend was created for netlist `" +
                   q.netlist_path + "`");
        }
        return state;
    }
    if (!state) {
        report(std::string(func) + ": queue `" + q.queue_name + "`: its backend was destroyed");
    }
    return state;
}

/// ttrt's descriptor of `q`: Buda's fields as they are now, what Buda has no field for
/// (location, ublock order, arch) from the descriptor ttrt gave. The name points into `q`.
inline ttrt_io_desc c_queue(const tt::tt_dram_io_desc &q) {
    ttrt_io_desc c = q.ttrt_queue;
    c.queue_name = q.queue_name.c_str();
    c.io_type = q.io_type == tt::IO_TYPE::RandomAccess ? TTRT_IO_TYPE_RAM : TTRT_IO_TYPE_QUEUE;
    c.layout = q.layout == tt::IO_LAYOUT::Flat ? TTRT_IO_LAYOUT_FLAT : TTRT_IO_LAYOUT_TILIZED;
    c.grid_r = q.bufq_grid_dim_r;
    c.grid_c = q.bufq_grid_dim_c;
    c.entries = q.bufq_num_slots;
    c.ublock_rt = q.ublock_rt;
    c.ublock_ct = q.ublock_ct;
    c.mblock_m = q.mblock_m;
    c.mblock_n = q.mblock_n;
    c.tile_height = q.tile_height;
    c.tile_width = q.tile_width;
    c.t = q.t;
    c.input_count = q.input_count;
    c.hstack_factor = q.hstack_factor;
    c.vstack_factor = q.vstack_factor;
    c.format = static_cast<std::uint32_t>(q.bufq_target_format);
    c.entry_size = q.bufq_entry_size;
    c.stack_row_major = q.stack_row_major;
    return c;
}

/// Buda's descriptor of the queue ttrt described as `c`.
inline tt::tt_dram_io_desc buda_queue(const ttrt_io_desc &c) {
    tt::tt_dram_io_desc q;
    q.queue_name = c.queue_name != nullptr ? c.queue_name : "";
    q.bufq_grid_dim_r = c.grid_r;
    q.bufq_grid_dim_c = c.grid_c;
    q.bufq_num_slots = c.entries;
    q.ublock_rt = c.ublock_rt;
    q.ublock_ct = c.ublock_ct;
    q.mblock_m = c.mblock_m;
    q.mblock_n = c.mblock_n;
    q.tile_height = c.tile_height;
    q.tile_width = c.tile_width;
    q.t = c.t;
    q.input_count = c.input_count;
    q.hstack_factor = c.hstack_factor;
    q.vstack_factor = c.vstack_factor;
    q.stack_row_major = c.stack_row_major;
    q.bufq_target_format = static_cast<tt::DataFormat>(c.format);
    q.bufq_entry_size = c.entry_size;
    q.io_type = c.io_type == TTRT_IO_TYPE_RAM ? tt::IO_TYPE::RandomAccess : tt::IO_TYPE::Queue;
    q.layout = c.layout == TTRT_IO_LAYOUT_FLAT ? tt::IO_LAYOUT::Flat : tt::IO_LAYOUT::Tilized;
    q.ttrt_queue = c;
    q.ttrt_queue.queue_name = nullptr;
    return q;
}

/// ttrt's descriptor of the host tensor `t`, as the caller's memory.
inline ttrt_tensor_desc c_tensor(const tt::tt_PytorchTensorDesc &t) {
    ttrt_tensor_desc c = {};
    c.ptr = t.ptr;
    c.itemsize = t.itemsize;
    c.format = static_cast<std::uint32_t>(t.format);
    for (std::size_t i = 0; i < tt::PY_TENSOR_DIMS; i++) {
        c.shape[i] = t.shape[i];
        c.strides[i] = t.strides[i];
    }
    c.dim = t.dim;
    c.owner = TTRT_TENSOR_OWNER_FRONTEND;
    return c;
}

/// ttrt's timeout in milliseconds for Buda's in seconds: > 0 waits that long, otherwise the
/// call tries once, as Buda waits only for a positive timeout.
inline std::int32_t timeout_ms(int seconds) {
    if (seconds <= 0) {
        return 0;
    }
    constexpr int most = INT32_MAX / 1000;
    return static_cast<std::int32_t>(std::min(seconds, most)) * 1000;
}

/// Host memory the backend hands out (allocate_memory_for_tensor, get_output), by address,
/// until free_tensor (Buda's host_shared_memory).
struct host_memory {
    std::mutex mutex;
    std::map<const void *, std::shared_ptr<std::vector<std::uint32_t>>> blocks;
};

inline host_memory &memory() {
    static host_memory m;
    return m;
}

}  // namespace ttrt::buda::detail

#endif  // TTRT_BUDA_TT_BACKEND_API_TYPES_HPP
