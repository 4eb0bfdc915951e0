/*
 * tt_backend_api.hpp - Buda's backend IO API (tt-budabackend's netlist/tt_backend_api.hpp),
 * header-only over ttrt's C API. See tt_backend_api_types.hpp.
 *
 * Calls returning a DEVICE_STATUS_CODE never throw: RuntimeError and TimeoutError come with
 * ttrt's message in ttrt::buda::last_error() (and, for RuntimeError, the error handler).
 */
#ifndef TTRT_BUDA_TT_BACKEND_API_HPP
#define TTRT_BUDA_TT_BACKEND_API_HPP

#include "tt_backend_api_types.hpp"

namespace tt::backend {

//! Bytes of one datum of `data_format` on the host, as Buda's: Bfp and 8-bit float formats
//! have none (std::runtime_error), Invalid is 0xbadface.
inline std::uint32_t sizeof_format(const DataFormat data_format) {
    switch (data_format) {
        case DataFormat::Float32:
        case DataFormat::Tf32:
        case DataFormat::Int32:
        case DataFormat::RawUInt32: return 4;
        case DataFormat::Float16:
        case DataFormat::Float16_b:
        case DataFormat::UInt16:
        case DataFormat::RawUInt16: return 2;
        case DataFormat::Int8:
        case DataFormat::UInt8:
        case DataFormat::RawUInt8: return 1;
        case DataFormat::Invalid: return 0xbadface;
        default: break;
    }
    const char *name = format_name(data_format);
    throw std::runtime_error(std::string("tt::backend::sizeof_format: ") + (name != nullptr ? name : "an unknown format") +
                             " has no size per datum");
}

//! Pushes the host tensor `py_tensor_desc` into the queue or ram (`ptr` selects a ram entry):
//! its outermost dimension is the number of entries (1 with `push_one`). Waits up to
//! `timeout_in_seconds` for room (<= 0: not at all); TT_BACKEND_PUSH_TIMEOUT, read when the
//! backend was created, overrides it.
inline tt::DEVICE_STATUS_CODE push_input(
    const tt::tt_dram_io_desc &q_desc,
    const tt::tt_PytorchTensorDesc &py_tensor_desc,
    const bool push_one,
    const int timeout_in_seconds,
    const int ptr = -1) {
    auto state = ttrt::buda::detail::backend_of(q_desc, "tt::backend::push_input");
    if (!state) {
        return tt::DEVICE_STATUS_CODE::RuntimeError;
    }
    ttrt_io_desc q = ttrt::buda::detail::c_queue(q_desc);
    ttrt_tensor_desc t = ttrt::buda::detail::c_tensor(py_tensor_desc);
    return ttrt::buda::detail::status(ttrt_push_input(
        state->backend, &q, &t, push_one, ttrt::buda::detail::timeout_ms(timeout_in_seconds), ptr));
}

//! Not supported: ttrt pushes host tensors, tilizing them itself. Returns RuntimeError.
inline tt::DEVICE_STATUS_CODE push_input(
    const tt::tt_dram_io_desc &q_desc,
    const tt::tt_TilizedTensorDesc &tilized_tensor_desc,
    const int timeout_in_seconds,
    const int ptr = -1) {
    (void)tilized_tensor_desc;
    (void)timeout_in_seconds;
    (void)ptr;
    return ttrt::buda::detail::fail("tt::backend::push_input: queue `" + q_desc.queue_name +
                                    "`: pushing a tt_TilizedTensorDesc is not supported; push the host "
                                    "tensor (tt_PytorchTensorDesc) instead");
}

//! Frees 1 (`pop_one`) or input_count entries of a queue (not a ram).
inline tt::DEVICE_STATUS_CODE pop_output(const tt::tt_dram_io_desc &q_desc, const bool pop_one, const int timeout_in_seconds) {
    auto state = ttrt::buda::detail::backend_of(q_desc, "tt::backend::pop_output");
    if (!state) {
        return tt::DEVICE_STATUS_CODE::RuntimeError;
    }
    ttrt_io_desc q = ttrt::buda::detail::c_queue(q_desc);
    return ttrt::buda::detail::status(
        ttrt_pop_output(state->backend, &q, pop_one, ttrt::buda::detail::timeout_ms(timeout_in_seconds)));
}

//! Reads 1 (`get_one`) or input_count entries without popping them into host memory the
//! backend owns (release it with free_tensor; it outlives the backend), in the queue format's
//! host format.
inline tt::DEVICE_STATUS_CODE get_output(
    const tt::tt_dram_io_desc &q_desc,
    tt::tt_PytorchTensorDesc &py_tensor_desc,
    const bool get_one,
    const int timeout_in_seconds,
    const int ptr = -1) {
    namespace detail = ttrt::buda::detail;
    auto state = detail::backend_of(q_desc, "tt::backend::get_output");
    if (!state) {
        return tt::DEVICE_STATUS_CODE::RuntimeError;
    }
    ttrt_io_desc q = detail::c_queue(q_desc);
    ttrt_tensor_desc out = {};
    ttrt_status st = ttrt_get_output(state->backend, &q, &out, get_one, detail::timeout_ms(timeout_in_seconds), ptr);
    if (st != TTRT_STATUS_SUCCESS) {
        return detail::status(st);
    }
    // The bytes the descriptor spans, copied into memory that stays until free_tensor.
    std::size_t bytes = out.itemsize;
    for (std::size_t i = 0; i < tt::PY_TENSOR_DIMS; i++) {
        if (out.shape[i] == 0) {
            bytes = 0;
            break;
        }
        bytes += static_cast<std::size_t>(out.shape[i] - 1) * out.strides[i];
    }
    std::shared_ptr<std::vector<std::uint32_t>> block;
    try {
        block = std::make_shared<std::vector<std::uint32_t>>((bytes + 3) / 4);
    } catch (const std::bad_alloc &) {
        ttrt_tensor_desc_free(&out);
        return detail::fail("tt::backend::get_output: queue `" + q_desc.queue_name + "`: cannot allocate " +
                            std::to_string(bytes) + " bytes for the tensor");
    }
    if (bytes > 0) {
        std::memcpy(block->data(), out.ptr, bytes);
    }
    {
        std::lock_guard<std::mutex> lock(detail::memory().mutex);
        detail::memory().blocks[block->data()] = block;
    }
    py_tensor_desc.ptr = block->data();
    py_tensor_desc.itemsize = out.itemsize;
    py_tensor_desc.format = static_cast<tt::DataFormat>(out.format);
    for (std::size_t i = 0; i < tt::PY_TENSOR_DIMS; i++) {
        py_tensor_desc.shape[i] = out.shape[i];
        py_tensor_desc.strides[i] = out.strides[i];
    }
    py_tensor_desc.dim = out.dim;
    py_tensor_desc.owner = tt::OWNERSHIP::Backend;
    ttrt_tensor_desc_free(&out);
    return tt::DEVICE_STATUS_CODE::Success;
}

//! Success for a queue of a live backend, leaving bufq_mapping empty: ttrt's device is not
//! mapped into the process, and the io calls reach it through the backend (as Buda's do for a
//! descriptor without a mapping). RuntimeError when the queue's backend is gone.
inline tt::DEVICE_STATUS_CODE translate_addresses(tt::tt_dram_io_desc &q_desc) {
    return ttrt::buda::detail::backend_of(q_desc, "tt::backend::translate_addresses")
               ? tt::DEVICE_STATUS_CODE::Success
               : tt::DEVICE_STATUS_CODE::RuntimeError;
}

//! Zeroed host memory for `num_elements` datums of `tensor_format`, rounded up to whole 32-bit
//! words, kept by the backend until free_tensor of a tensor pointing at it.
inline std::shared_ptr<std::vector<std::uint32_t>> allocate_memory_for_tensor(
    const tt::DataFormat tensor_format, const std::uint32_t num_elements) {
    std::uint64_t bytes = static_cast<std::uint64_t>(num_elements) * sizeof_format(tensor_format);
    auto block = std::make_shared<std::vector<std::uint32_t>>(static_cast<std::size_t>((bytes + 3) / 4));
    std::lock_guard<std::mutex> lock(ttrt::buda::detail::memory().mutex);
    ttrt::buda::detail::memory().blocks[block->data()] = block;
    return block;
}

//! Releases backend-owned host memory (allocate_memory_for_tensor, get_output) and sets the
//! tensor's ptr to null. A null ptr, a tensor not marked backend-owned, or memory still
//! referenced elsewhere is a RuntimeError; memory the backend did not hand out is left alone
//! (Success), as Buda's does.
template <typename T>
tt::DEVICE_STATUS_CODE free_tensor(T &tensor_desc) {
    namespace detail = ttrt::buda::detail;
    if (tensor_desc.ptr == nullptr) {
        return detail::fail("tt::backend::free_tensor: the tensor's ptr is null");
    }
    if (tensor_desc.owner != tt::OWNERSHIP::Backend) {
        return detail::fail("tt::backend::free_tensor: the tensor is not backend owned");
    }
    {
        std::lock_guard<std::mutex> lock(detail::memory().mutex);
        auto it = detail::memory().blocks.find(tensor_desc.ptr);
        if (it != detail::memory().blocks.end()) {
            if (it->second.use_count() != 1) {
                detail::report("tt::backend::free_tensor: the memory is still referenced (use count " +
                               std::to_string(it->second.use_count()) + ")");
                return tt::DEVICE_STATUS_CODE::RuntimeError;
            }
            detail::memory().blocks.erase(it);
        }
    }
    tensor_desc.ptr = nullptr;
    return tt::DEVICE_STATUS_CODE::Success;
}

//! Bytes of one tile of `data_formati`: with header and padding, or (`is_untilized`) datums
//! and exponents only (ttrt_tile_size_bytes_dim). Throws std::runtime_error for a format or tile
//! shape ttrt refuses. Equal to Buda's size_lib for 32x32 and 16x32 tiles; for the few tiles
//! where a block float's exponents fill the padding (1x32 Bfp4, 1x32 and 2x32 Bfp2) it is
//! ttrt's size, which is not padded to 32 bytes as size_lib's is.
inline int get_tile_size_in_bytes(
    const DataFormat data_formati, const bool is_untilized, const int tile_height, const int tile_width) {
    if (tile_height <= 0 || tile_width <= 0) {
        throw std::runtime_error("tt::backend::get_tile_size_in_bytes: tile dims must be positive");
    }
    std::uint32_t size = ttrt_tile_size_bytes_dim(
        static_cast<std::uint32_t>(data_formati), 0, static_cast<std::uint32_t>(tile_height),
        static_cast<std::uint32_t>(tile_width), is_untilized);
    if (size == 0) {
        ttrt::buda::detail::throw_c_error();
    }
    return static_cast<int>(size);
}

}  // namespace tt::backend

#endif  // TTRT_BUDA_TT_BACKEND_API_HPP
