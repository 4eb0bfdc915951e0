/*
 * io_utils.h - the io helpers of Buda's embedded loader (tt-budabackend's demos/io_utils.h),
 * header-only over ttrt's C API. See tt_backend_api_types.hpp.
 */
#ifndef TTRT_BUDA_IO_UTILS_H
#define TTRT_BUDA_IO_UTILS_H

#include "tt_backend.hpp"
#include "tt_backend_api.hpp"
#include "tt_backend_api_types.hpp"

namespace tt::io::utils {

//! The descriptor of queue `queue_name` of `backend`, with its addresses translated (which on
//! ttrt's device leaves bufq_mapping empty). Throws std::runtime_error for an unknown queue.
inline tt::tt_dram_io_desc get_queue_descriptor(const std::shared_ptr<tt_backend> &backend, const std::string &queue_name) {
    tt::tt_dram_io_desc queue_desc = backend->get_queue_descriptor(queue_name);
    tt::backend::translate_addresses(queue_desc);
    return queue_desc;
}

//! An empty backend-owned host tensor descriptor of shape [w, z, r, c], contiguous.
inline tt::tt_PytorchTensorDesc to_tensor_descriptor(
    unsigned int w_dim,
    unsigned int z_dim,
    unsigned int r_dim,
    unsigned int c_dim,
    tt::DataFormat format,
    unsigned int dim = tt::PY_TENSOR_DIMS) {
    tt::tt_PytorchTensorDesc tensor_desc;
    tensor_desc.owner = tt::OWNERSHIP::Backend;
    tensor_desc.ptr = nullptr;
    tensor_desc.itemsize = tt::backend::sizeof_format(format);
    tensor_desc.format = format;
    tensor_desc.shape = {w_dim, z_dim, r_dim, c_dim};
    tensor_desc.dim = dim;
    tensor_desc.strides[3] = tensor_desc.itemsize;
    tensor_desc.strides[2] = c_dim * tensor_desc.strides[3];
    tensor_desc.strides[1] = r_dim * tensor_desc.strides[2];
    tensor_desc.strides[0] = z_dim * tensor_desc.strides[1];
    return tensor_desc;
}

//! The host tensor shape of one push of `queue_desc` (input_count entries): [w, z, y, x], as
//! ttrt_io_desc_host_shape gives it. (ttrt applies no prestride transform: a prestrided
//! input is pushed as the queue holds it.) Throws std::runtime_error for a bad descriptor.
inline std::tuple<unsigned int, unsigned int, unsigned int, unsigned int> get_tensor_shape_from_model(
    const std::string &name, std::shared_ptr<tt::tt_device_image> model, const tt::tt_dram_io_desc &queue_desc) {
    (void)name;
    (void)model;
    ttrt_io_desc q = ttrt::buda::detail::c_queue(queue_desc);
    std::uint32_t shape[4] = {0, 0, 0, 0};
    if (ttrt_io_desc_host_shape(&q, queue_desc.input_count, shape) != TTRT_STATUS_SUCCESS) {
        ttrt::buda::detail::throw_c_error();
    }
    return {shape[0], shape[1], shape[2], shape[3]};
}

//! The host format that holds `queue_desc`'s format without loss, as Buda's: Float16_b for the
//! B family, Float16 for the A family, Float32 and integer formats unchanged. Throws
//! std::runtime_error for the others.
inline tt::DataFormat get_pytorch_tensor_format_from_queue(const tt::tt_dram_io_desc &queue_desc) {
    switch (queue_desc.bufq_target_format) {
        case tt::DataFormat::Float32:
        case tt::DataFormat::RawUInt32:
        case tt::DataFormat::RawUInt16:
        case tt::DataFormat::RawUInt8:
        case tt::DataFormat::Int8:
        case tt::DataFormat::UInt8:
        case tt::DataFormat::Int32: return queue_desc.bufq_target_format;
        case tt::DataFormat::Float16_b:
        case tt::DataFormat::Bfp8_b:
        case tt::DataFormat::Bfp4_b:
        case tt::DataFormat::Bfp2_b: return tt::DataFormat::Float16_b;
        case tt::DataFormat::Float16:
        case tt::DataFormat::Bfp8:
        case tt::DataFormat::Bfp4:
        case tt::DataFormat::Bfp2: return tt::DataFormat::Float16;
        default: break;
    }
    throw std::runtime_error("tt::io::utils::get_pytorch_tensor_format_from_queue: queue `" + queue_desc.queue_name +
                             "`: Invalid Tensor data format");
}

//! Points `tensor` at zeroed backend-owned memory of its size (release it with free_tensor).
//! Fill it with real inputs before pushing.
inline void fill_tensor_with_data(const std::string &name, tt::tt_PytorchTensorDesc &tensor) {
    (void)name;
    std::uint32_t num_elements = tensor.shape.at(3) * tensor.shape.at(2) * tensor.shape.at(1) * tensor.shape.at(0);
    auto mem = tt::backend::allocate_memory_for_tensor(tensor.format, num_elements);
    tensor.ptr = mem->data();
}

//! An empty backend-owned descriptor for one push of input `name` of `model` to `queue_desc`.
inline tt::tt_PytorchTensorDesc get_tensor_descriptor(
    const std::string &name, const std::shared_ptr<tt::tt_device_image> model, const tt::tt_dram_io_desc &queue_desc) {
    const auto tensor_shape = get_tensor_shape_from_model(name, model, queue_desc);
    const tt::DataFormat format = get_pytorch_tensor_format_from_queue(queue_desc);
    return to_tensor_descriptor(
        std::get<0>(tensor_shape), std::get<1>(tensor_shape), std::get<2>(tensor_shape), std::get<3>(tensor_shape),
        format);
}

}  // namespace tt::io::utils

#endif  // TTRT_BUDA_IO_UTILS_H
