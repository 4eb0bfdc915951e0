/*
 * ttrt.hpp - a header-only C++17 interface to ttrt, over the C API of ttrt.h.
 *
 * Ownership
 * - Every handle of the C API a program holds has an owning type: ttrt::image, ttrt::backend,
 *   ttrt::device, ttrt::tensor (a device tensor), ttrt::backend_tensor (a host tensor the
 *   backend hands out: get_output, tensor_desc_for_queue), ttrt::trace_capture (a capture in
 *   progress), ttrt::trace (a stored trace) and ttrt::pipeline. They are move-only: copying is
 *   deleted, moving leaves the source empty (get() is NULL, bool false), and the destructor
 *   releases the handle exactly once (image/backend/tensor/pipeline *_free, device close,
 *   trace release, tensor_desc_free). release() hands the raw handle over to the caller.
 * - device_ref and tensor_ref are non-owning views (what a pipeline's model callback is lent);
 *   device and tensor derive from them, so every function that takes a view takes the owner.
 * - A trace_capture destroyed before end() (an exception between begin and end) ends the
 *   capture and releases what it stored, so the command queue can capture again.
 * - Events (ttrt::event), queue descriptors (ttrt::io_desc), memory configs, tensor specs and
 *   host tensor views (ttrt::host_tensor, ttrt::tensor_desc) are plain C structs: values.
 * - A trace, tensor or pipeline may outlive its device: the C API refuses a closed device's
 *   handle without dereferencing it, and the destructors ignore that status.
 *
 * Errors: two variants of every call that can fail, one pattern throughout
 * - f(...) returns its value and throws ttrt::error on failure: e.status() is the ttrt_status
 *   the C API returned and e.what() its one line of text (ttrt_last_error_message()), exactly.
 * - try_f(...) never throws a ttrt error: it returns ttrt::result<T> (result<void> for calls
 *   with no value), holding either the value or the same status and text (status(),
 *   message()). result.value() throws the ttrt::error it holds. A call that returns no
 *   name or list allocates nothing on success, in either variant, so a steady-state loop
 *   (writes, ops, events, trace replays, reads, push/run/get_output_into/pop) allocates
 *   nothing in the wrapper.
 *   (Only std::bad_alloc, from copying an error text or a name into a std::string, can leave
 *   a try_ function.)
 * - Where the C API signals failure by NULL or 0 with the last error set (a name out of
 *   range, an invalid tile format), the status is TTRT_STATUS_INVALID_ARGUMENT and the text
 *   the C API's. Checks the wrapper makes itself (a span shorter than the tensor it
 *   describes) say "ttrt::FUNCTION: what" in the same style.
 *
 * Buffers: ttrt::span<T> (pointer + count; from a C array, std::array, std::vector, or a
 * pointer and count) carries every buffer handed to the library; its size_bytes() is the
 * length passed to C (ttrt_host_tensor::size, tilize's dst_len, untilize's src_len), and the
 * tensor descriptors made from a span are checked to lie within it.
 *
 * Callbacks: a pipeline's model is a std::function returning the output ttrt::tensor; an
 * exception it throws is caught before it reaches C, the pipeline call fails, and the
 * exception is rethrown from the throwing pipeline function that called the model (the try_
 * variant reports it as a status and text instead). The log callback is a std::function too;
 * an exception it throws is caught and dropped (it may run on the library's worker threads).
 *
 * Threads: as ttrt.h says. The wrapper adds no locks except in set_log_callback.
 */
#ifndef TTRT_HPP
#define TTRT_HPP

#if !defined(__cplusplus) || (__cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L))
#error "ttrt.hpp needs C++17 or later"
#endif

#include <ttrt.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ttrt {

// ---------------------------------------------------------------------------------------------
// Errors

// A failed ttrt call: the status the C API returned and its one line of text.
class error : public std::runtime_error {
public:
    error(ttrt_status status, const std::string &text) : std::runtime_error(text), status_(status) {}
    ttrt_status status() const noexcept { return status_; }
    // The status as ttrt.h spells it, e.g. "TTRT_STATUS_INVALID_ARGUMENT".
    const char *status_name() const noexcept { return ttrt_status_str(status_); }

private:
    ttrt_status status_;
};

// The name of a status as ttrt.h spells it; never NULL.
inline const char *status_str(ttrt_status status) noexcept { return ttrt_status_str(status); }

// The text of the last failure on this thread (empty if none).
inline const char *last_error_message() noexcept { return ttrt_last_error_message(); }

namespace detail {

// Only for success-or-failure bookkeeping: a failure always carries a non-success status.
struct failure_tag {};

} // namespace detail

// The outcome of a try_ call: a value, or a status and its text.
template <class T>
class result {
public:
    static_assert(!std::is_reference<T>::value, "ttrt::result holds values");

    result(T value) noexcept(std::is_nothrow_move_constructible<T>::value)
        : status_(TTRT_STATUS_SUCCESS), value_(std::move(value)) {}
    result(detail::failure_tag, ttrt_status status, std::string message)
        : status_(status), message_(std::move(message)), value_() {}

    bool ok() const noexcept { return status_ == TTRT_STATUS_SUCCESS; }
    explicit operator bool() const noexcept { return ok(); }
    ttrt_status status() const noexcept { return status_; }
    // The failure's text; empty on success.
    const std::string &message() const noexcept { return message_; }

    // The value; throws ttrt::error on failure.
    T &value() & {
        check();
        return value_;
    }
    const T &value() const & {
        check();
        return value_;
    }
    T &&value() && {
        check();
        return std::move(value_);
    }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }

    // Throws the failure, if any.
    void check() const {
        if (!ok()) {
            throw error(status_, message_);
        }
    }

private:
    ttrt_status status_;
    std::string message_;
    T value_;
};

template <>
class result<void> {
public:
    result() noexcept : status_(TTRT_STATUS_SUCCESS) {}
    result(detail::failure_tag, ttrt_status status, std::string message)
        : status_(status), message_(std::move(message)) {}

    bool ok() const noexcept { return status_ == TTRT_STATUS_SUCCESS; }
    explicit operator bool() const noexcept { return ok(); }
    ttrt_status status() const noexcept { return status_; }
    const std::string &message() const noexcept { return message_; }
    void value() const { check(); }
    void check() const {
        if (!ok()) {
            throw error(status_, message_);
        }
    }

private:
    ttrt_status status_;
    std::string message_;
};

namespace detail {

// A failure carrying the C API's last error text for `status`.
template <class T = void>
result<T> last_failure(ttrt_status status) {
    return result<T>(failure_tag{}, status, std::string(ttrt_last_error_message()));
}

template <class T = void>
result<T> failure(ttrt_status status, std::string text) {
    return result<T>(failure_tag{}, status, std::move(text));
}

inline result<void> status_result(ttrt_status status) {
    if (status == TTRT_STATUS_SUCCESS) {
        return result<void>();
    }
    return last_failure(status);
}

// A name the C API returns, or its failure (NULL with the last error set).
inline result<std::string> name_result(const char *name) {
    if (name == nullptr) {
        return last_failure<std::string>(TTRT_STATUS_INVALID_ARGUMENT);
    }
    return result<std::string>(std::string(name));
}

} // namespace detail

// Throws ttrt::error with the C API's last text when `status` is a failure.
inline void check(ttrt_status status) { detail::status_result(status).check(); }

// ---------------------------------------------------------------------------------------------
// Spans

// A view of `size()` elements at `data()`: what every buffer argument takes.
template <class T>
class span {
    template <class U>
    using compatible = std::enable_if_t<std::is_convertible<U (*)[], T (*)[]>::value, int>;

public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;
    using size_type = std::size_t;
    using pointer = T *;
    using iterator = T *;

    constexpr span() noexcept = default;
    constexpr span(T *data, std::size_t size) noexcept : data_(data), size_(size) {}
    template <std::size_t N>
    constexpr span(T (&array)[N]) noexcept : data_(array), size_(N) {}
    template <class U, std::size_t N, compatible<U> = 0>
    constexpr span(std::array<U, N> &array) noexcept : data_(array.data()), size_(N) {}
    template <class U, std::size_t N, compatible<const U> = 0>
    constexpr span(const std::array<U, N> &array) noexcept : data_(array.data()), size_(N) {}
    template <class U, class A, compatible<U> = 0>
    span(std::vector<U, A> &vector) noexcept : data_(vector.data()), size_(vector.size()) {}
    template <class U, class A, compatible<const U> = 0>
    span(const std::vector<U, A> &vector) noexcept : data_(vector.data()), size_(vector.size()) {}
    template <class U, compatible<U> = 0>
    constexpr span(const span<U> &other) noexcept : data_(other.data()), size_(other.size()) {}

    constexpr T *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T *begin() const noexcept { return data_; }
    constexpr T *end() const noexcept { return data_ + size_; }
    constexpr T &operator[](std::size_t i) const noexcept { return data_[i]; }
    // Elements [offset, offset + count); throws std::out_of_range past the end.
    span subspan(std::size_t offset, std::size_t count) const {
        if (offset > size_ || count > size_ - offset) {
            throw std::out_of_range("ttrt::span::subspan: past the end");
        }
        return span(data_ + offset, count);
    }
    span first(std::size_t count) const { return subspan(0, count); }

private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

// The bytes of a span.
template <class T>
span<const std::uint8_t> as_bytes(span<T> s) noexcept {
    return span<const std::uint8_t>(reinterpret_cast<const std::uint8_t *>(s.data()), s.size_bytes());
}
template <class T, std::enable_if_t<!std::is_const<T>::value, int> = 0>
span<std::uint8_t> as_writable_bytes(span<T> s) noexcept {
    return span<std::uint8_t>(reinterpret_cast<std::uint8_t *>(s.data()), s.size_bytes());
}

// ---------------------------------------------------------------------------------------------
// Plain structs (values)

using event = ttrt_event;
using io_desc = ttrt_io_desc;
using tensor_desc = ttrt_tensor_desc;
using host_tensor = ttrt_host_tensor;
using tensor_spec = ttrt_tensor_spec;
using memory_config = ttrt_memory_config;
using program_param = ttrt_program_param;
using shape4 = std::array<std::uint32_t, 4>;

// Config structs filled with the library's defaults (ttrt_*_config_default) on construction;
// each is the C struct itself, passed to C as is.
struct device_config : ttrt_device_config {
    device_config() noexcept : ttrt_device_config() { ttrt_device_config_default(this); }
};
struct backend_config : ttrt_backend_config {
    backend_config() noexcept : ttrt_backend_config() { ttrt_backend_config_default(this); }
};
struct image_config : ttrt_image_config {
    image_config() noexcept : ttrt_image_config() { ttrt_image_config_default(this); }
};
struct pipeline_config : ttrt_pipeline_config {
    pipeline_config() noexcept : ttrt_pipeline_config() { ttrt_pipeline_config_default(this); }
};
struct codec_options : ttrt_codec_options {
    codec_options() noexcept : ttrt_codec_options() { ttrt_codec_options_default(this); }
};
static_assert(sizeof(device_config) == sizeof(ttrt_device_config), "device_config is the C struct");
static_assert(sizeof(backend_config) == sizeof(ttrt_backend_config), "backend_config is the C struct");
static_assert(sizeof(image_config) == sizeof(ttrt_image_config), "image_config is the C struct");
static_assert(sizeof(pipeline_config) == sizeof(ttrt_pipeline_config), "pipeline_config is the C struct");
static_assert(sizeof(codec_options) == sizeof(ttrt_codec_options), "codec_options is the C struct");

// An interleaved memory config of `type`.
inline memory_config interleaved(ttrt_buffer_type type) noexcept {
    memory_config m{};
    m.buffer_type = type;
    m.memory_layout = TTRT_MEMORY_LAYOUT_INTERLEAVED;
    return m;
}

// A sharded memory config: shards of `shard_height` x `shard_width` elements over `grid`.
inline memory_config sharded(ttrt_buffer_type type, ttrt_memory_layout layout, ttrt_core_range grid,
                             std::uint32_t shard_height, std::uint32_t shard_width,
                             ttrt_shard_orientation orientation = TTRT_SHARD_ORIENTATION_ROW_MAJOR) noexcept {
    memory_config m{};
    m.buffer_type = type;
    m.memory_layout = layout;
    m.shard.grid = grid;
    m.shard.shape[0] = shard_height;
    m.shard.shape[1] = shard_width;
    m.shard.orientation = orientation;
    return m;
}

// TT-CNN's config of a persistent DRAM input (ttrt_memory_config_for_persistent_dram_tensor).
inline result<memory_config> try_memory_config_for_persistent_dram_tensor(const shape4 &shape,
                                                                         ttrt_memory_layout shard_strategy,
                                                                         std::uint32_t dram_grid_x,
                                                                         std::uint32_t dram_grid_y = 1) {
    memory_config m{};
    ttrt_status st =
        ttrt_memory_config_for_persistent_dram_tensor(shape.data(), shard_strategy, dram_grid_x, dram_grid_y, &m);
    if (st != TTRT_STATUS_SUCCESS) {
        return detail::last_failure<memory_config>(st);
    }
    return m;
}
inline memory_config memory_config_for_persistent_dram_tensor(const shape4 &shape, ttrt_memory_layout shard_strategy,
                                                              std::uint32_t dram_grid_x,
                                                              std::uint32_t dram_grid_y = 1) {
    return try_memory_config_for_persistent_dram_tensor(shape, shard_strategy, dram_grid_x, dram_grid_y).value();
}

// A tensor spec: shape, format and layout.
inline tensor_spec make_tensor_spec(const shape4 &shape, ttrt_data_format format,
                                    ttrt_tensor_layout layout = TTRT_TENSOR_LAYOUT_TILE) noexcept {
    tensor_spec s{};
    for (std::size_t i = 0; i < 4; i++) {
        s.shape[i] = shape[i];
    }
    s.format = format;
    s.layout = layout;
    return s;
}

// The host data format of a C++ element type (float, int32_t, uint16_t, uint8_t, int8_t).
template <class T>
constexpr ttrt_data_format format_of() noexcept {
    using U = std::remove_cv_t<T>;
    static_assert(std::is_same<U, float>::value || std::is_same<U, std::int32_t>::value ||
                      std::is_same<U, std::uint16_t>::value || std::is_same<U, std::uint8_t>::value ||
                      std::is_same<U, std::int8_t>::value,
                  "no host data format for this element type: name the format");
    return std::is_same<U, float>::value           ? TTRT_DATA_FORMAT_FLOAT32
           : std::is_same<U, std::int32_t>::value  ? TTRT_DATA_FORMAT_INT32
           : std::is_same<U, std::uint16_t>::value ? TTRT_DATA_FORMAT_UINT16
           : std::is_same<U, std::uint8_t>::value  ? TTRT_DATA_FORMAT_UINT8
                                                   : TTRT_DATA_FORMAT_INT8;
}

// Bytes per element of a host format (0 for a format with no host element: block floats).
constexpr std::uint32_t host_itemsize(ttrt_data_format format) noexcept {
    switch (format) {
    case TTRT_DATA_FORMAT_FLOAT32:
    case TTRT_DATA_FORMAT_INT32:
    case TTRT_DATA_FORMAT_RAW_UINT32:
    case TTRT_DATA_FORMAT_TF32:
        return 4;
    case TTRT_DATA_FORMAT_FLOAT16:
    case TTRT_DATA_FORMAT_FLOAT16_B:
    case TTRT_DATA_FORMAT_UINT16:
    case TTRT_DATA_FORMAT_RAW_UINT16:
        return 2;
    case TTRT_DATA_FORMAT_INT8:
    case TTRT_DATA_FORMAT_UINT8:
    case TTRT_DATA_FORMAT_RAW_UINT8:
        return 1;
    default:
        return 0;
    }
}

// A host tensor view (TT-Metal copies) of the elements of `data`: `size` is data.size_bytes().
// A view of const data may only be copied to the device.
template <class T>
host_tensor make_host_tensor(span<T> data, const shape4 &shape, ttrt_data_format format,
                             ttrt_tensor_layout layout = TTRT_TENSOR_LAYOUT_ROW_MAJOR) noexcept {
    host_tensor h{};
    h.data = const_cast<std::remove_cv_t<T> *>(data.data());
    h.size = data.size_bytes();
    for (std::size_t i = 0; i < 4; i++) {
        h.shape[i] = shape[i];
    }
    h.format = format;
    h.layout = layout;
    return h;
}
template <class T>
host_tensor make_host_tensor(span<T> data, const shape4 &shape) noexcept {
    return make_host_tensor(data, shape, format_of<T>(), TTRT_TENSOR_LAYOUT_ROW_MAJOR);
}

// A contiguous tensor descriptor (Buda's host tensors: push_input, get_output_into, tilize,
// untilize) of `shape` elements of `format` over `data`. Fails, naming the sizes, when the
// tensor does not fit in the span or the format has no host element size.
template <class T>
result<tensor_desc> try_make_tensor_desc(span<T> data, const shape4 &shape, ttrt_data_format format) {
    const std::uint32_t itemsize = host_itemsize(format);
    if (itemsize == 0) {
        return detail::failure<tensor_desc>(TTRT_STATUS_INVALID_ARGUMENT,
                                            "ttrt::make_tensor_desc: format " + std::to_string(static_cast<std::uint32_t>(format)) +
                                                " has no host element size");
    }
    unsigned long long need = itemsize;
    tensor_desc t{};
    for (std::size_t d = 4; d-- > 0;) {
        t.shape[d] = shape[d] == 0 ? 1 : shape[d];
        if (need > 0xffffffffull) {
            return detail::failure<tensor_desc>(TTRT_STATUS_INVALID_ARGUMENT,
                                                "ttrt::make_tensor_desc: a stride exceeds 2^32 - 1 bytes");
        }
        t.strides[d] = static_cast<std::uint32_t>(need);
        need *= t.shape[d];
    }
    if (need > data.size_bytes()) {
        return detail::failure<tensor_desc>(TTRT_STATUS_INVALID_ARGUMENT,
                                            "ttrt::make_tensor_desc: the tensor needs " + std::to_string(need) +
                                                " bytes, the span holds " + std::to_string(data.size_bytes()));
    }
    t.ptr = data.data();
    t.itemsize = itemsize;
    t.format = format;
    t.dim = 4;
    t.owner = TTRT_TENSOR_OWNER_FRONTEND;
    return t;
}
template <class T>
tensor_desc make_tensor_desc(span<T> data, const shape4 &shape, ttrt_data_format format) {
    return try_make_tensor_desc(data, shape, format).value();
}
template <class T>
tensor_desc make_tensor_desc(span<T> data, const shape4 &shape) {
    return try_make_tensor_desc(data, shape, format_of<T>()).value();
}

// Elements of a 4-d shape.
inline std::size_t volume(const shape4 &shape) noexcept {
    return static_cast<std::size_t>(shape[0]) * shape[1] * shape[2] * shape[3];
}

// ---------------------------------------------------------------------------------------------
// Library: version, build, logging

inline const char *version() noexcept { return ttrt_version(); }
inline std::uint32_t abi_version() noexcept { return ttrt_abi_version(); }
// Whether the loaded library has the ABI this header was compiled against.
inline bool abi_compatible() noexcept { return ttrt_abi_version() == TTRT_ABI_VERSION; }

struct build_info {
    std::uint32_t version_major = 0, version_minor = 0, version_patch = 0;
    std::uint32_t abi_version = 0;
    std::uint32_t features = 0;
    std::string target;
};

inline result<build_info> try_get_build_info() {
    ttrt_build_info raw{};
    raw.struct_size = sizeof raw;
    ttrt_status st = ttrt_get_build_info(&raw);
    if (st != TTRT_STATUS_SUCCESS) {
        return detail::last_failure<build_info>(st);
    }
    build_info b;
    b.version_major = raw.version_major;
    b.version_minor = raw.version_minor;
    b.version_patch = raw.version_patch;
    b.abi_version = raw.abi_version;
    b.features = raw.features;
    b.target = raw.target != nullptr ? raw.target : "";
    return b;
}
inline build_info get_build_info() { return try_get_build_info().value(); }

// A log record's receiver: level, target (the ttrt module) and message, both valid only during
// the call. It may be called from any thread that uses ttrt, including the device's workers.
using log_fn = std::function<void(ttrt_log_level level, const char *target, const char *message)>;

namespace detail {

struct log_registry {
    std::mutex lock;
    // Every receiver ever registered: the library may still be calling a replaced one on
    // another thread, so none is destroyed. The registry itself is never destroyed either
    // (a worker thread may log while the program exits); it stays reachable.
    std::vector<std::unique_ptr<log_fn>> receivers;
};

inline log_registry &logs() {
    static log_registry *registry = new log_registry();
    return *registry;
}

inline void log_trampoline(void *user, ttrt_log_level level, const char *target, const char *message) noexcept {
    try {
        const log_fn &fn = *static_cast<const log_fn *>(user);
        fn(level, target, message);
    } catch (...) {
        // No exception crosses back into C; the record is dropped.
    }
}

// Keeps `fn` alive for the rest of the process and returns it as the callback's user pointer.
inline log_fn *keep_receiver(log_fn fn) {
    log_registry &r = logs();
    std::lock_guard<std::mutex> hold(r.lock);
    r.receivers.push_back(std::unique_ptr<log_fn>(new log_fn(std::move(fn))));
    return r.receivers.back().get();
}

} // namespace detail

// Sends ttrt's log records up to `max_level` to `fn` (ttrt_set_log_callback). An empty `fn`, or
// TTRT_LOG_LEVEL_OFF, turns logging off. A receiver, once registered, is kept until the process
// ends (the library may still be calling it on another thread after it is replaced).
inline result<void> try_set_log_callback(log_fn fn, ttrt_log_level max_level) {
    if (!fn) {
        return detail::status_result(ttrt_set_log_callback(nullptr, nullptr, max_level));
    }
    log_fn *kept = detail::keep_receiver(std::move(fn));
    return detail::status_result(ttrt_set_log_callback(&detail::log_trampoline, kept, max_level));
}
inline void set_log_callback(log_fn fn, ttrt_log_level max_level) {
    try_set_log_callback(std::move(fn), max_level).value();
}

// Turns logging off.
inline result<void> try_clear_log_callback() {
    return detail::status_result(ttrt_set_log_callback(nullptr, nullptr, TTRT_LOG_LEVEL_OFF));
}
inline void clear_log_callback() { try_clear_log_callback().value(); }

// Sends records to `fn` up to the level TTRT_LOG names (ttrt_init_log_from_env).
inline result<void> try_init_log_from_env(log_fn fn) {
    if (!fn) {
        return detail::status_result(ttrt_init_log_from_env(nullptr, nullptr));
    }
    log_fn *kept = detail::keep_receiver(std::move(fn));
    return detail::status_result(ttrt_init_log_from_env(&detail::log_trampoline, kept));
}
inline void init_log_from_env(log_fn fn) { try_init_log_from_env(std::move(fn)).value(); }

// ---------------------------------------------------------------------------------------------
// Formats: tiles, queue sizes, tilize and untilize

// Bytes of one tile of `format` on `arch` (0: Wormhole B0); see ttrt_tile_size_bytes_dim.
inline result<std::uint32_t> try_tile_size_bytes(ttrt_data_format format, std::uint32_t arch = 0,
                                                 bool untilized = false, std::uint32_t tile_height = 32,
                                                 std::uint32_t tile_width = 32) {
    std::uint32_t n = ttrt_tile_size_bytes_dim(format, arch, tile_height, tile_width, untilized);
    if (n == 0) {
        return detail::last_failure<std::uint32_t>(TTRT_STATUS_INVALID_ARGUMENT);
    }
    return n;
}
inline std::uint32_t tile_size_bytes(ttrt_data_format format, std::uint32_t arch = 0, bool untilized = false,
                                     std::uint32_t tile_height = 32, std::uint32_t tile_width = 32) {
    return try_tile_size_bytes(format, arch, untilized, tile_height, tile_width).value();
}

// The host shape of `w` entries of the queue `layout`.
inline result<shape4> try_io_desc_host_shape(const io_desc &layout, std::uint32_t w) {
    shape4 s{};
    ttrt_status st = ttrt_io_desc_host_shape(&layout, w, s.data());
    if (st != TTRT_STATUS_SUCCESS) {
        return detail::last_failure<shape4>(st);
    }
    return s;
}
inline shape4 io_desc_host_shape(const io_desc &layout, std::uint32_t w) {
    return try_io_desc_host_shape(layout, w).value();
}

struct io_sizes {
    std::uint64_t entry_size = 0;   // one entry in one buffer
    std::uint64_t io_size = 0;      // one buffer with its queue header
    std::uint64_t tilized_size = 0; // what tilize writes for w entries
};
inline result<io_sizes> try_io_desc_sizes(const io_desc &layout, std::uint32_t w) {
    io_sizes s;
    ttrt_status st = ttrt_io_desc_sizes(&layout, w, &s.entry_size, &s.io_size, &s.tilized_size);
    if (st != TTRT_STATUS_SUCCESS) {
        return detail::last_failure<io_sizes>(st);
    }
    return s;
}
inline io_sizes io_desc_sizes(const io_desc &layout, std::uint32_t w) { return try_io_desc_sizes(layout, w).value(); }

// Tilizes `src` into `dst` (dst.size() bytes are passed as dst_len); `options` NULL: Buda's
// reference rounding.
inline result<void> try_tilize(const tensor_desc &src, const io_desc &layout, span<std::uint8_t> dst,
                               const codec_options *options = nullptr) {
    return detail::status_result(ttrt_tilize_with_options(&src, &layout, options, dst.data(), dst.size()));
}
inline void tilize(const tensor_desc &src, const io_desc &layout, span<std::uint8_t> dst,
                   const codec_options *options = nullptr) {
    try_tilize(src, layout, dst, options).value();
}

// Untilizes the bytes of `src` (src.size() is passed as src_len) into the tensor `dst`.
inline result<void> try_untilize(span<const std::uint8_t> src, const io_desc &layout, const tensor_desc &dst) {
    tensor_desc out = dst;
    return detail::status_result(ttrt_untilize(src.data(), src.size(), &layout, &out));
}
inline void untilize(span<const std::uint8_t> src, const io_desc &layout, const tensor_desc &dst) {
    try_untilize(src, layout, dst).value();
}

// ---------------------------------------------------------------------------------------------
// Images

// An open TTI image or netlist (ttrt_image_open ... ttrt_image_free).
class image {
public:
    image() noexcept = default;
    // Takes ownership of `handle`.
    explicit image(ttrt_image *handle) noexcept : h_(handle) {}
    ~image() { ttrt_image_free(h_); }
    image(const image &) = delete;
    image &operator=(const image &) = delete;
    image(image &&other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
    image &operator=(image &&other) noexcept {
        if (this != &other) {
            reset(std::exchange(other.h_, nullptr));
        }
        return *this;
    }

    static result<image> try_open(const char *path, const image_config *cfg = nullptr) {
        ttrt_image *h = nullptr;
        ttrt_status st = cfg != nullptr ? ttrt_image_open_with_config(path, cfg, &h) : ttrt_image_open(path, &h);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<image>(st);
        }
        return image(h);
    }
    static result<image> try_open(const std::string &path, const image_config *cfg = nullptr) {
        return try_open(path.c_str(), cfg);
    }
    static image open(const char *path, const image_config *cfg = nullptr) { return try_open(path, cfg).value(); }
    static image open(const std::string &path, const image_config *cfg = nullptr) {
        return try_open(path.c_str(), cfg).value();
    }

    std::size_t input_count() const noexcept { return ttrt_image_input_count(h_); }
    std::size_t output_count() const noexcept { return ttrt_image_output_count(h_); }
    result<std::string> try_input_name(std::size_t i) const { return detail::name_result(ttrt_image_input_name(h_, i)); }
    result<std::string> try_output_name(std::size_t i) const {
        return detail::name_result(ttrt_image_output_name(h_, i));
    }
    std::string input_name(std::size_t i) const { return try_input_name(i).value(); }
    std::string output_name(std::size_t i) const { return try_output_name(i).value(); }
    std::vector<std::string> input_names() const {
        std::vector<std::string> names;
        for (std::size_t i = 0, n = input_count(); i < n; i++) {
            names.push_back(input_name(i));
        }
        return names;
    }
    std::vector<std::string> output_names() const {
        std::vector<std::string> names;
        for (std::size_t i = 0, n = output_count(); i < n; i++) {
            names.push_back(output_name(i));
        }
        return names;
    }

    result<ttrt_arch> try_arch() const {
        ttrt_arch a{};
        ttrt_status st = ttrt_image_arch(h_, &a);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<ttrt_arch>(st);
        }
        return a;
    }
    ttrt_arch arch() const { return try_arch().value(); }

    // Sets the variables of compile_and_runtime_config.json not set already; how many.
    result<std::size_t> try_apply_runtime_config() const {
        std::size_t n = 0;
        ttrt_status st = ttrt_image_apply_runtime_config(h_, &n);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<std::size_t>(st);
        }
        return n;
    }
    std::size_t apply_runtime_config() const { return try_apply_runtime_config().value(); }

    ttrt_image *get() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != nullptr; }
    ttrt_image *release() noexcept { return std::exchange(h_, nullptr); }
    void reset(ttrt_image *handle = nullptr) noexcept { ttrt_image_free(std::exchange(h_, handle)); }

private:
    ttrt_image *h_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Backend (Buda's embedded loader)

// A host tensor the backend owns (get_output, tensor_desc_for_queue), released with
// ttrt_tensor_desc_free. After the backend finishes, its memory is gone: read it before.
class backend_tensor {
public:
    backend_tensor() noexcept = default;
    // Takes ownership of a backend-owned descriptor.
    explicit backend_tensor(const tensor_desc &desc) noexcept : d_(desc) {}
    ~backend_tensor() {
        if (d_.ptr != nullptr) {
            (void)ttrt_tensor_desc_free(&d_);
        }
    }
    backend_tensor(const backend_tensor &) = delete;
    backend_tensor &operator=(const backend_tensor &) = delete;
    backend_tensor(backend_tensor &&other) noexcept : d_(std::exchange(other.d_, tensor_desc{})) {}
    backend_tensor &operator=(backend_tensor &&other) noexcept {
        if (this != &other) {
            reset();
            d_ = std::exchange(other.d_, tensor_desc{});
        }
        return *this;
    }

    const tensor_desc &desc() const noexcept { return d_; }
    const std::uint32_t *shape() const noexcept { return d_.shape; }
    ttrt_data_format format() const noexcept { return static_cast<ttrt_data_format>(d_.format); }
    std::size_t volume() const noexcept {
        return d_.ptr == nullptr ? 0
                                 : static_cast<std::size_t>(d_.shape[0]) * d_.shape[1] * d_.shape[2] * d_.shape[3];
    }
    std::size_t size_bytes() const noexcept { return volume() * d_.itemsize; }
    span<const std::uint8_t> bytes() const noexcept {
        return span<const std::uint8_t>(static_cast<const std::uint8_t *>(d_.ptr), size_bytes());
    }
    // The memory to fill, for a tensor of tensor_desc_for_queue.
    span<std::uint8_t> writable_bytes() noexcept {
        return span<std::uint8_t>(static_cast<std::uint8_t *>(const_cast<void *>(d_.ptr)), size_bytes());
    }
    // The elements as T; an empty span unless sizeof(T) is the tensor's itemsize.
    template <class T>
    span<const T> values() const noexcept {
        if (sizeof(T) != d_.itemsize) {
            return span<const T>();
        }
        return span<const T>(static_cast<const T *>(d_.ptr), volume());
    }

    explicit operator bool() const noexcept { return d_.ptr != nullptr; }
    // Releases the memory now, reporting the status (the destructor ignores it).
    result<void> try_free() {
        if (d_.ptr == nullptr) {
            return result<void>();
        }
        return detail::status_result(ttrt_tensor_desc_free(&d_));
    }
    void reset() noexcept {
        if (d_.ptr != nullptr) {
            (void)ttrt_tensor_desc_free(&d_);
        }
        d_ = tensor_desc{};
    }
    // Gives up ownership; free the result with ttrt_tensor_desc_free.
    tensor_desc release() noexcept { return std::exchange(d_, tensor_desc{}); }

private:
    tensor_desc d_{};
};

// A Buda backend (ttrt_backend_create ... ttrt_backend_free).
class backend {
public:
    backend() noexcept = default;
    explicit backend(ttrt_backend *handle) noexcept : h_(handle) {}
    ~backend() { ttrt_backend_free(h_); }
    backend(const backend &) = delete;
    backend &operator=(const backend &) = delete;
    backend(backend &&other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
    backend &operator=(backend &&other) noexcept {
        if (this != &other) {
            reset(std::exchange(other.h_, nullptr));
        }
        return *this;
    }

    // The image may be freed once this returns.
    static result<backend> try_create(const image &img, const backend_config &cfg = backend_config()) {
        ttrt_backend *h = nullptr;
        ttrt_status st = ttrt_backend_create(img.get(), &cfg, &h);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<backend>(st);
        }
        return backend(h);
    }
    static backend create(const image &img, const backend_config &cfg = backend_config()) {
        return try_create(img, cfg).value();
    }

    result<void> try_initialize() { return detail::status_result(ttrt_backend_initialize(h_)); }
    void initialize() { try_initialize().value(); }

    // Programs and their declared parameters.
    std::size_t program_count() const noexcept { return ttrt_backend_program_count(h_); }
    result<std::string> try_program_name(std::size_t i) const {
        return detail::name_result(ttrt_backend_program_name(h_, i));
    }
    std::string program_name(std::size_t i) const { return try_program_name(i).value(); }
    std::vector<std::string> program_names() const {
        std::vector<std::string> names;
        for (std::size_t i = 0, n = program_count(); i < n; i++) {
            names.push_back(program_name(i));
        }
        return names;
    }
    result<std::size_t> try_program_param_count(std::size_t program) const {
        // 0 is also the count of a program that declares none: a bad index is told apart by
        // the program count (asked first, so that the last error is the count's own).
        const std::size_t programs = program_count();
        std::size_t n = ttrt_backend_program_param_count(h_, program);
        if (n == 0 && program >= programs) {
            return detail::last_failure<std::size_t>(TTRT_STATUS_INVALID_ARGUMENT);
        }
        return n;
    }
    std::size_t program_param_count(std::size_t program) const { return try_program_param_count(program).value(); }
    // The name of a declared parameter, with its `$`. The C string stays valid until the
    // backend is freed; this copies it.
    result<std::string> try_program_param_name(std::size_t program, std::size_t i) const {
        return detail::name_result(ttrt_backend_program_param_name(h_, program, i));
    }
    std::string program_param_name(std::size_t program, std::size_t i) const {
        return try_program_param_name(program, i).value();
    }
    result<bool> try_program_param_required(std::size_t program, std::size_t i) const {
        const std::size_t programs = program_count();
        const std::size_t params = program < programs ? ttrt_backend_program_param_count(h_, program) : 0;
        bool required = ttrt_backend_program_param_required(h_, program, i);
        if (!required && (program >= programs || i >= params)) {
            return detail::last_failure<bool>(TTRT_STATUS_INVALID_ARGUMENT);
        }
        return required;
    }
    bool program_param_required(std::size_t program, std::size_t i) const {
        return try_program_param_required(program, i).value();
    }

    result<io_desc> try_queue_descriptor(const char *queue) const {
        io_desc d{};
        ttrt_status st = ttrt_backend_get_queue_descriptor(h_, queue, &d);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<io_desc>(st);
        }
        return d;
    }
    result<io_desc> try_queue_descriptor(const std::string &queue) const { return try_queue_descriptor(queue.c_str()); }
    io_desc queue_descriptor(const char *queue) const { return try_queue_descriptor(queue).value(); }
    io_desc queue_descriptor(const std::string &queue) const { return try_queue_descriptor(queue.c_str()).value(); }

    // A zeroed backend-owned tensor for one (`single`) or input_count entries of `q`.
    result<backend_tensor> try_tensor_desc_for_queue(const io_desc &q, bool single = false) const {
        tensor_desc t{};
        ttrt_status st = ttrt_backend_tensor_desc_for_queue(h_, &q, single, &t);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<backend_tensor>(st);
        }
        return backend_tensor(t);
    }
    backend_tensor tensor_desc_for_queue(const io_desc &q, bool single = false) const {
        return try_tensor_desc_for_queue(q, single).value();
    }

    // Timeouts in milliseconds: < 0 waits forever, 0 tries once.
    result<void> try_push_input(const io_desc &q, const tensor_desc &t, bool push_one = false,
                                std::int32_t timeout_ms = -1, std::int32_t ptr = -1) {
        return detail::status_result(ttrt_push_input(h_, &q, &t, push_one, timeout_ms, ptr));
    }
    void push_input(const io_desc &q, const tensor_desc &t, bool push_one = false, std::int32_t timeout_ms = -1,
                    std::int32_t ptr = -1) {
        try_push_input(q, t, push_one, timeout_ms, ptr).value();
    }
    result<void> try_push_input(const io_desc &q, const backend_tensor &t, bool push_one = false,
                                std::int32_t timeout_ms = -1, std::int32_t ptr = -1) {
        return try_push_input(q, t.desc(), push_one, timeout_ms, ptr);
    }
    void push_input(const io_desc &q, const backend_tensor &t, bool push_one = false, std::int32_t timeout_ms = -1,
                    std::int32_t ptr = -1) {
        try_push_input(q, t.desc(), push_one, timeout_ms, ptr).value();
    }

    // Runs `program` with its parameters ({"$p_loop_count", "1"}).
    result<void> try_run_program(const char *program, span<const program_param> params = {}) {
        return detail::status_result(ttrt_backend_run_program(h_, program, params.data(), params.size()));
    }
    result<void> try_run_program(const char *program, std::initializer_list<program_param> params) {
        return detail::status_result(ttrt_backend_run_program(h_, program, params.begin(), params.size()));
    }
    void run_program(const char *program, span<const program_param> params = {}) {
        try_run_program(program, params).value();
    }
    void run_program(const char *program, std::initializer_list<program_param> params) {
        try_run_program(program, params).value();
    }
    void run_program(const std::string &program, span<const program_param> params = {}) {
        try_run_program(program.c_str(), params).value();
    }

    result<backend_tensor> try_get_output(const io_desc &q, bool get_one = false, std::int32_t timeout_ms = -1,
                                          std::int32_t ptr = -1) {
        tensor_desc t{};
        ttrt_status st = ttrt_get_output(h_, &q, &t, get_one, timeout_ms, ptr);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<backend_tensor>(st);
        }
        return backend_tensor(t);
    }
    backend_tensor get_output(const io_desc &q, bool get_one = false, std::int32_t timeout_ms = -1,
                              std::int32_t ptr = -1) {
        return try_get_output(q, get_one, timeout_ms, ptr).value();
    }
    // get_output into the caller's memory (make_tensor_desc); allocates nothing.
    result<void> try_get_output_into(const io_desc &q, const tensor_desc &dst, bool get_one = false,
                                     std::int32_t timeout_ms = -1, std::int32_t ptr = -1) {
        return detail::status_result(ttrt_get_output_into(h_, &q, &dst, get_one, timeout_ms, ptr));
    }
    void get_output_into(const io_desc &q, const tensor_desc &dst, bool get_one = false, std::int32_t timeout_ms = -1,
                         std::int32_t ptr = -1) {
        try_get_output_into(q, dst, get_one, timeout_ms, ptr).value();
    }
    result<void> try_pop_output(const io_desc &q, bool pop_one = false, std::int32_t timeout_ms = -1) {
        return detail::status_result(ttrt_pop_output(h_, &q, pop_one, timeout_ms));
    }
    void pop_output(const io_desc &q, bool pop_one = false, std::int32_t timeout_ms = -1) {
        try_pop_output(q, pop_one, timeout_ms).value();
    }

    result<void> try_wait_for_idle() { return detail::status_result(ttrt_backend_wait_for_idle(h_)); }
    void wait_for_idle() { try_wait_for_idle().value(); }
    // Stops the device; the handle stays until the destructor (which finishes if needed).
    result<void> try_finish() { return detail::status_result(ttrt_backend_finish(h_)); }
    void finish() { try_finish().value(); }

    ttrt_backend *get() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != nullptr; }
    ttrt_backend *release() noexcept { return std::exchange(h_, nullptr); }
    void reset(ttrt_backend *handle = nullptr) noexcept { ttrt_backend_free(std::exchange(h_, handle)); }

private:
    ttrt_backend *h_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Devices, tensors, events, traces

class tensor;
class trace;
class trace_capture;

// A device tensor, not owned (a pipeline's model is lent its input this way).
class tensor_ref {
public:
    tensor_ref() noexcept = default;
    explicit tensor_ref(ttrt_tensor *handle) noexcept : t_(handle) {}

    // The buffer address (the same in every bank), 0 for an empty or freed handle.
    std::uint64_t buffer_address() const noexcept { return ttrt_tensor_buffer_address(t_); }
    // Frees the device memory; the handle stays.
    result<void> try_deallocate(bool force = true) const { return detail::status_result(ttrt_tensor_deallocate(t_, force)); }
    void deallocate(bool force = true) const { try_deallocate(force).value(); }

    ttrt_tensor *get() const noexcept { return t_; }
    explicit operator bool() const noexcept { return t_ != nullptr; }

protected:
    ttrt_tensor *t_ = nullptr;
};

// A device tensor, owned (ttrt_tensor_free).
class tensor : public tensor_ref {
public:
    tensor() noexcept = default;
    explicit tensor(ttrt_tensor *handle) noexcept : tensor_ref(handle) {}
    ~tensor() { ttrt_tensor_free(t_); }
    tensor(const tensor &) = delete;
    tensor &operator=(const tensor &) = delete;
    tensor(tensor &&other) noexcept : tensor_ref(std::exchange(other.t_, nullptr)) {}
    tensor &operator=(tensor &&other) noexcept {
        if (this != &other) {
            reset(std::exchange(other.t_, nullptr));
        }
        return *this;
    }
    ttrt_tensor *release() noexcept { return std::exchange(t_, nullptr); }
    void reset(ttrt_tensor *handle = nullptr) noexcept { ttrt_tensor_free(std::exchange(t_, handle)); }
};

// A stored trace (ttrt_release_trace when destroyed).
class trace {
public:
    trace() noexcept = default;
    trace(ttrt_device *dev, std::uint32_t id) noexcept : d_(dev), id_(id), live_(true) {}
    ~trace() { reset(); }
    trace(const trace &) = delete;
    trace &operator=(const trace &) = delete;
    trace(trace &&other) noexcept
        : d_(std::exchange(other.d_, nullptr)), id_(std::exchange(other.id_, 0u)),
          live_(std::exchange(other.live_, false)) {}
    trace &operator=(trace &&other) noexcept {
        if (this != &other) {
            reset();
            d_ = std::exchange(other.d_, nullptr);
            id_ = std::exchange(other.id_, 0u);
            live_ = std::exchange(other.live_, false);
        }
        return *this;
    }

    std::uint32_t id() const noexcept { return id_; }
    explicit operator bool() const noexcept { return live_; }

    // Replays the trace on `cq`.
    result<void> try_execute(std::uint8_t cq, bool blocking = false) const {
        if (!live_) {
            return detail::failure(TTRT_STATUS_INVALID_ARGUMENT, "ttrt::trace::execute: the trace is empty (moved from or released)");
        }
        return detail::status_result(ttrt_execute_trace(d_, cq, id_, blocking));
    }
    void execute(std::uint8_t cq, bool blocking = false) const { try_execute(cq, blocking).value(); }

    // Releases the trace now, reporting the status (the destructor ignores it). The trace is
    // empty afterwards whatever the status.
    result<void> try_release() {
        if (!live_) {
            return result<void>();
        }
        live_ = false;
        return detail::status_result(ttrt_release_trace(d_, id_));
    }
    void release() { try_release().value(); }
    void reset() noexcept {
        if (live_) {
            live_ = false;
            (void)ttrt_release_trace(d_, id_);
        }
    }

private:
    ttrt_device *d_ = nullptr;
    std::uint32_t id_ = 0;
    bool live_ = false;
};

// A trace capture in progress on one command queue. end() stores the trace and returns it;
// destroyed before end(), it ends the capture and releases whatever was stored.
class trace_capture {
public:
    trace_capture() noexcept = default;
    trace_capture(ttrt_device *dev, std::uint8_t cq, std::uint32_t id) noexcept
        : d_(dev), cq_(cq), id_(id), active_(true) {}
    ~trace_capture() { abandon(); }
    trace_capture(const trace_capture &) = delete;
    trace_capture &operator=(const trace_capture &) = delete;
    trace_capture(trace_capture &&other) noexcept
        : d_(std::exchange(other.d_, nullptr)), cq_(std::exchange(other.cq_, std::uint8_t{0})),
          id_(std::exchange(other.id_, 0u)), active_(std::exchange(other.active_, false)) {}
    trace_capture &operator=(trace_capture &&other) noexcept {
        if (this != &other) {
            abandon();
            d_ = std::exchange(other.d_, nullptr);
            cq_ = std::exchange(other.cq_, std::uint8_t{0});
            id_ = std::exchange(other.id_, 0u);
            active_ = std::exchange(other.active_, false);
        }
        return *this;
    }

    std::uint32_t id() const noexcept { return id_; }
    std::uint8_t cq() const noexcept { return cq_; }
    explicit operator bool() const noexcept { return active_; }

    // Ends the capture (ttrt_end_trace_capture). The capture is over whatever the status: a
    // failure (the trace region too small) stores nothing.
    result<trace> try_end() {
        if (!active_) {
            return detail::failure<trace>(TTRT_STATUS_INVALID_STATE,
                                          "ttrt::trace_capture::end: no capture in progress (ended, or moved from)");
        }
        active_ = false;
        ttrt_status st = ttrt_end_trace_capture(d_, cq_, id_);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<trace>(st);
        }
        return trace(d_, id_);
    }
    trace end() { return try_end().value(); }

    // Ends the capture and releases the trace, ignoring the statuses (what the destructor does).
    void abandon() noexcept {
        if (active_) {
            active_ = false;
            if (ttrt_end_trace_capture(d_, cq_, id_) == TTRT_STATUS_SUCCESS) {
                (void)ttrt_release_trace(d_, id_);
            }
        }
    }

private:
    ttrt_device *d_ = nullptr;
    std::uint8_t cq_ = 0;
    std::uint32_t id_ = 0;
    bool active_ = false;
};

// A device, not owned (a pipeline's model is lent its device this way).
class device_ref {
public:
    device_ref() noexcept = default;
    explicit device_ref(ttrt_device *handle) noexcept : d_(handle) {}

    ttrt_device *get() const noexcept { return d_; }
    explicit operator bool() const noexcept { return d_ != nullptr; }

    // Runs queued commands (builds without std); whether there was work.
    result<bool> try_poll() const {
        bool did = false;
        ttrt_status st = ttrt_device_poll(d_, &did);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<bool>(st);
        }
        return did;
    }
    bool poll() const { return try_poll().value(); }

    result<void> try_finish(std::uint8_t cq) const { return detail::status_result(ttrt_finish(d_, cq)); }
    void finish(std::uint8_t cq) const { try_finish(cq).value(); }
    result<void> try_synchronize() const { return detail::status_result(ttrt_synchronize(d_)); }
    void synchronize() const { try_synchronize().value(); }

    // Events.
    result<event> try_record_event(std::uint8_t cq) const {
        event ev{};
        ttrt_status st = ttrt_record_event(d_, cq, &ev);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<event>(st);
        }
        return ev;
    }
    event record_event(std::uint8_t cq) const { return try_record_event(cq).value(); }
    result<void> try_wait_for_event(std::uint8_t cq, const event &ev) const {
        return detail::status_result(ttrt_wait_for_event(d_, cq, &ev));
    }
    void wait_for_event(std::uint8_t cq, const event &ev) const { try_wait_for_event(cq, ev).value(); }
    result<void> try_event_synchronize(const event &ev, std::int32_t timeout_ms = -1) const {
        return detail::status_result(ttrt_event_synchronize(d_, &ev, timeout_ms));
    }
    void event_synchronize(const event &ev, std::int32_t timeout_ms = -1) const {
        try_event_synchronize(ev, timeout_ms).value();
    }
    result<bool> try_event_query(const event &ev) const {
        bool done = false;
        ttrt_status st = ttrt_event_query(d_, &ev, &done);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<bool>(st);
        }
        return done;
    }
    bool event_query(const event &ev) const { return try_event_query(ev).value(); }

    // Traces.
    result<trace_capture> try_begin_trace_capture(std::uint8_t cq) const {
        std::uint32_t id = 0;
        ttrt_status st = ttrt_begin_trace_capture(d_, cq, &id);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<trace_capture>(st);
        }
        return trace_capture(d_, cq, id);
    }
    trace_capture begin_trace_capture(std::uint8_t cq) const { return try_begin_trace_capture(cq).value(); }
    result<void> try_execute_trace(std::uint8_t cq, const trace &t, bool blocking = false) const {
        return t.try_execute(cq, blocking);
    }
    void execute_trace(std::uint8_t cq, const trace &t, bool blocking = false) const {
        t.try_execute(cq, blocking).value();
    }

    // Tensors.
    result<tensor> try_allocate_tensor(const tensor_spec &spec, const memory_config &mem) const {
        ttrt_tensor *t = nullptr;
        ttrt_status st = ttrt_allocate_tensor_on_device(d_, &spec, &mem, &t);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<tensor>(st);
        }
        return tensor(t);
    }
    tensor allocate_tensor(const tensor_spec &spec, const memory_config &mem) const {
        return try_allocate_tensor(spec, mem).value();
    }
    // Copies the host tensor `src` (make_host_tensor) into `dst`; `src`'s bytes may be reused
    // when this returns.
    result<void> try_copy_host_to_device(std::uint8_t cq, const host_tensor &src, const tensor_ref &dst,
                                         bool blocking = false) const {
        return detail::status_result(ttrt_copy_host_to_device_tensor(d_, cq, &src, dst.get(), blocking));
    }
    void copy_host_to_device(std::uint8_t cq, const host_tensor &src, const tensor_ref &dst,
                             bool blocking = false) const {
        try_copy_host_to_device(cq, src, dst, blocking).value();
    }
    // Copies `src` into the memory `dst` views; non-blocking, that memory must stay valid until
    // an event, finish or synchronize that follows.
    result<void> try_copy_device_to_host(std::uint8_t cq, const tensor_ref &src, const host_tensor &dst,
                                         bool blocking = false) const {
        host_tensor out = dst;
        return detail::status_result(ttrt_copy_device_to_host_tensor(d_, cq, src.get(), &out, blocking));
    }
    void copy_device_to_host(std::uint8_t cq, const tensor_ref &src, const host_tensor &dst,
                             bool blocking = false) const {
        try_copy_device_to_host(cq, src, dst, blocking).value();
    }
    result<tensor> try_to_memory_config(std::uint8_t cq, const tensor_ref &input, const memory_config &mem) const {
        ttrt_tensor *t = nullptr;
        ttrt_status st = ttrt_to_memory_config(d_, cq, input.get(), &mem, &t);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<tensor>(st);
        }
        return tensor(t);
    }
    tensor to_memory_config(std::uint8_t cq, const tensor_ref &input, const memory_config &mem) const {
        return try_to_memory_config(cq, input, mem).value();
    }
    result<void> try_reshard(std::uint8_t cq, const tensor_ref &input, const tensor_ref &out_in_place) const {
        return detail::status_result(ttrt_reshard(d_, cq, input.get(), out_in_place.get()));
    }
    void reshard(std::uint8_t cq, const tensor_ref &input, const tensor_ref &out_in_place) const {
        try_reshard(cq, input, out_in_place).value();
    }

    // Device ops: each returns a new tensor in `out_mem`.
    result<tensor> try_unary(std::uint8_t cq, ttrt_unary_op op, const tensor_ref &input,
                             const memory_config &out_mem) const {
        ttrt_tensor *t = nullptr;
        ttrt_status st = ttrt_op_unary(d_, cq, op, input.get(), &out_mem, &t);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<tensor>(st);
        }
        return tensor(t);
    }
    tensor unary(std::uint8_t cq, ttrt_unary_op op, const tensor_ref &input, const memory_config &out_mem) const {
        return try_unary(cq, op, input, out_mem).value();
    }
    result<tensor> try_binary(std::uint8_t cq, ttrt_binary_op op, const tensor_ref &a, const tensor_ref &b,
                              const memory_config &out_mem) const {
        ttrt_tensor *t = nullptr;
        ttrt_status st = ttrt_op_binary(d_, cq, op, a.get(), b.get(), &out_mem, &t);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<tensor>(st);
        }
        return tensor(t);
    }
    tensor binary(std::uint8_t cq, ttrt_binary_op op, const tensor_ref &a, const tensor_ref &b,
                  const memory_config &out_mem) const {
        return try_binary(cq, op, a, b, out_mem).value();
    }
    result<tensor> try_matmul(std::uint8_t cq, const tensor_ref &a, const tensor_ref &b,
                              const memory_config &out_mem) const {
        ttrt_tensor *t = nullptr;
        ttrt_status st = ttrt_op_matmul(d_, cq, a.get(), b.get(), &out_mem, &t);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<tensor>(st);
        }
        return tensor(t);
    }
    tensor matmul(std::uint8_t cq, const tensor_ref &a, const tensor_ref &b, const memory_config &out_mem) const {
        return try_matmul(cq, a, b, out_mem).value();
    }

protected:
    ttrt_device *d_ = nullptr;
};

// An open device, owned: ttrt_device_close when destroyed (its status ignored; close() reports
// it).
class device : public device_ref {
public:
    device() noexcept = default;
    explicit device(ttrt_device *handle) noexcept : device_ref(handle) {}
    ~device() {
        if (d_ != nullptr) {
            (void)ttrt_device_close(d_);
        }
    }
    device(const device &) = delete;
    device &operator=(const device &) = delete;
    device(device &&other) noexcept : device_ref(std::exchange(other.d_, nullptr)) {}
    device &operator=(device &&other) noexcept {
        if (this != &other) {
            reset(std::exchange(other.d_, nullptr));
        }
        return *this;
    }

    static result<device> try_open(const device_config &cfg = device_config()) {
        ttrt_device *h = nullptr;
        ttrt_status st = ttrt_device_open(&cfg, &h);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<device>(st);
        }
        return device(h);
    }
    static device open(const device_config &cfg = device_config()) { return try_open(cfg).value(); }

    // Closes the device now, reporting a failure it met running earlier commands. The handle
    // is freed whatever the status, as fclose; the device is empty afterwards.
    result<void> try_close() {
        if (d_ == nullptr) {
            return result<void>();
        }
        return detail::status_result(ttrt_device_close(std::exchange(d_, nullptr)));
    }
    void close() { try_close().value(); }

    ttrt_device *release() noexcept { return std::exchange(d_, nullptr); }
    void reset(ttrt_device *handle = nullptr) noexcept {
        ttrt_device *old = std::exchange(d_, handle);
        if (old != nullptr) {
            (void)ttrt_device_close(old);
        }
    }
};

// ---------------------------------------------------------------------------------------------
// Pipelines (TT-CNN)

// The model: enqueues device ops on `cq` of `dev` that read `input` (lent, valid during the
// call; it may be deallocated, not freed) and returns the new output tensor.
using model_fn = std::function<tensor(device_ref dev, std::uint8_t cq, tensor_ref input)>;

// A TT-CNN pipeline (ttrt_pipeline_create ... ttrt_pipeline_free). The model is kept with it.
class pipeline {
    struct model_holder {
        model_fn fn;
        std::exception_ptr pending; // what the model threw during the current call
    };

public:
    pipeline() noexcept = default;
    ~pipeline() { reset(); }
    pipeline(const pipeline &) = delete;
    pipeline &operator=(const pipeline &) = delete;
    pipeline(pipeline &&other) noexcept : p_(std::exchange(other.p_, nullptr)), model_(std::move(other.model_)) {}
    pipeline &operator=(pipeline &&other) noexcept {
        if (this != &other) {
            reset();
            p_ = std::exchange(other.p_, nullptr);
            model_ = std::move(other.model_);
        }
        return *this;
    }

    // ttrt_pipeline_create: `dram_input` and `dram_output` may be NULL where the executor the
    // config chooses does not need them.
    static result<pipeline> try_create(const device_ref &dev, const pipeline_config &cfg, model_fn model,
                                       const memory_config &l1_input, const memory_config *dram_input = nullptr,
                                       const memory_config *dram_output = nullptr) {
        std::unique_ptr<model_holder> holder(new model_holder{std::move(model), nullptr});
        ttrt_pipeline *p = nullptr;
        ttrt_status st = ttrt_pipeline_create(dev.get(), &cfg, &trampoline, holder.get(), &l1_input, dram_input,
                                              dram_output, &p);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<pipeline>(st);
        }
        pipeline out;
        out.p_ = p;
        out.model_ = std::move(holder);
        return out;
    }
    static pipeline create(const device_ref &dev, const pipeline_config &cfg, model_fn model,
                           const memory_config &l1_input, const memory_config *dram_input = nullptr,
                           const memory_config *dram_output = nullptr) {
        return try_create(dev, cfg, std::move(model), l1_input, dram_input, dram_output).value();
    }

    // The executor chosen, as upstream names its class; "" for an empty pipeline.
    const char *executor() const noexcept {
        const char *name = ttrt_pipeline_executor(p_);
        return name != nullptr ? name : "";
    }

    // Warm-up (and trace capture) with `sample`. A model's exception is rethrown from
    // compile(); try_compile reports it as a status and text.
    result<void> try_compile(const host_tensor &sample) { return settle(ttrt_pipeline_compile(p_, &sample)); }
    void compile(const host_tensor &sample) { rethrow(ttrt_pipeline_compile(p_, &sample)); }

    result<void> try_preallocate_output_tensors_on_host(std::size_t n) {
        return detail::status_result(ttrt_pipeline_preallocate_output_tensors_on_host(p_, n));
    }
    void preallocate_output_tensors_on_host(std::size_t n) { try_preallocate_output_tensors_on_host(n).value(); }

    // Enqueues every input (their bytes are copied before this returns).
    result<void> try_enqueue(span<const host_tensor> inputs) {
        return settle(ttrt_pipeline_enqueue(p_, inputs.data(), inputs.size()));
    }
    void enqueue(span<const host_tensor> inputs) { rethrow(ttrt_pipeline_enqueue(p_, inputs.data(), inputs.size())); }

    // The outputs of every input enqueued since the last pop_all, in order; they belong to the
    // pipeline and stay valid until its next enqueue, pop_all, cleanup or destruction.
    result<span<const host_tensor>> try_pop_all() {
        const host_tensor *outputs = nullptr;
        std::size_t n = 0;
        ttrt_status st = ttrt_pipeline_pop_all(p_, &outputs, &n);
        if (st != TTRT_STATUS_SUCCESS) {
            return detail::last_failure<span<const host_tensor>>(st);
        }
        return span<const host_tensor>(outputs, n);
    }
    span<const host_tensor> pop_all() { return try_pop_all().value(); }

    result<void> try_cleanup() { return detail::status_result(ttrt_pipeline_cleanup(p_)); }
    void cleanup() { try_cleanup().value(); }

    ttrt_pipeline *get() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    // Frees the pipeline (cleaning up first), then the model.
    void reset() noexcept {
        ttrt_pipeline_free(std::exchange(p_, nullptr));
        model_.reset();
    }

private:
    static std::uint32_t trampoline(void *user, ttrt_device *dev, std::uint8_t cq, ttrt_tensor *input,
                                    ttrt_tensor **output) noexcept {
        model_holder *h = static_cast<model_holder *>(user);
        try {
            tensor out = h->fn(device_ref(dev), cq, tensor_ref(input));
            *output = out.release();
            return TTRT_STATUS_SUCCESS;
        } catch (const error &e) {
            h->pending = std::current_exception();
            return e.status();
        } catch (...) {
            h->pending = std::current_exception();
            return TTRT_STATUS_RUNTIME_ERROR;
        }
    }

    std::exception_ptr take_pending() noexcept {
        return model_ ? std::exchange(model_->pending, nullptr) : nullptr;
    }

    // The status as a result: a model's ttrt::error keeps its status and text; another
    // exception becomes the call's status with "model threw: what()".
    result<void> settle(ttrt_status st) {
        std::exception_ptr pending = take_pending();
        if (st == TTRT_STATUS_SUCCESS) {
            return result<void>();
        }
        if (pending) {
            try {
                std::rethrow_exception(pending);
            } catch (const error &e) {
                return detail::failure(e.status(), e.what());
            } catch (const std::exception &e) {
                return detail::failure(st, std::string("ttrt::pipeline: the model threw: ") + e.what());
            } catch (...) {
                return detail::failure(st, "ttrt::pipeline: the model threw an exception");
            }
        }
        return detail::last_failure(st);
    }

    void rethrow(ttrt_status st) {
        std::exception_ptr pending = take_pending();
        if (st == TTRT_STATUS_SUCCESS) {
            return;
        }
        if (pending) {
            std::rethrow_exception(pending);
        }
        detail::last_failure(st).check();
    }

    ttrt_pipeline *p_ = nullptr;
    std::unique_ptr<model_holder> model_;
};

} // namespace ttrt

#endif // TTRT_HPP
