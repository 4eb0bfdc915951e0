/*
 * tt_backend.hpp - Buda's tt_backend (tt-budabackend's netlist/tt_backend.hpp), header-only over
 * ttrt's C API. See tt_backend_api_types.hpp.
 *
 * tt_backend keeps Buda's interface (pure virtual where Buda's is, so a test double can still
 * derive from it); tt_backend::create returns ttrt's implementation.
 */
#ifndef TTRT_BUDA_TT_BACKEND_HPP
#define TTRT_BUDA_TT_BACKEND_HPP

#include "tt_backend_api_types.hpp"

class tt_backend {
   public:
    virtual ~tt_backend() = default;

    void set_config(const tt::tt_backend_config &new_config) { config = new_config; }
    const tt::tt_backend_config &get_config() { return config; }

    //! Lays out every queue and loads the image's constants and parameters.
    virtual tt::DEVICE_STATUS_CODE initialize() = 0;
    //! initialize(), reporting a failure in `result` too.
    virtual tt::DEVICE_STATUS_CODE initialize(tt::tt_compile_result *result) {
        tt::DEVICE_STATUS_CODE st = initialize();
        if (result != nullptr) {
            result->success = st == tt::DEVICE_STATUS_CODE::Success;
            result->failure_message = result->success ? "" : ttrt::buda::last_error();
        }
        return st;
    }
    //! Stops the device; waiting io calls on other threads end with a failure.
    virtual tt::DEVICE_STATUS_CODE finish() = 0;
    //! Runs a program; parameters it does not declare are ignored, as Buda ignores them.
    virtual tt::DEVICE_STATUS_CODE run_program(
        const std::string &program_name, const std::map<std::string, std::string> &parameters) = 0;
    virtual tt::DEVICE_STATUS_CODE wait_for_idle() = 0;
    //! Not supported: ttrt's device orders host and device accesses itself.
    virtual tt::DEVICE_STATUS_CODE memory_barrier(
        tt::MemBarType barrier_type, int chip, const std::unordered_set<tt_xy_pair> &cores = {}) = 0;
    //! Not supported (eager mode): ttrt compiles nothing.
    virtual tt::DEVICE_STATUS_CODE compile_netlist(const std::string &path) {
        return ttrt::buda::detail::fail(
            "tt_backend::compile_netlist: not supported: ttrt runs netlists as given and compiles "
            "nothing (`" +
            path + "`)");
    }
    //! Not supported (eager mode): ttrt compiles nothing.
    virtual tt::DEVICE_STATUS_CODE compile_and_run_netlist(
        const std::string &path, const std::map<std::string, std::string> &parameters) {
        (void)parameters;
        return ttrt::buda::detail::fail(
            "tt_backend::compile_and_run_netlist: not supported: ttrt runs netlists as given and "
            "compiles nothing (`" +
            path + "`)");
    }
    //! Throws std::runtime_error (ttrt's message) for a queue the netlist does not have.
    virtual const tt::tt_dram_io_desc get_queue_descriptor(const std::string &queue_name) = 0;
    //! The netlist's programs, in its order.
    virtual const std::vector<std::string> &get_programs() = 0;

    //! A backend for a netlist (.yaml) or an image (.tti) at `netlist_path`. Throws
    //! std::runtime_error with ttrt's message when it cannot be opened or created.
    static std::shared_ptr<tt_backend> create(const std::string &netlist_path, const tt::tt_backend_config &config);
    //! A backend for an image. Throws std::runtime_error as the other create.
    static std::shared_ptr<tt_backend> create(
        const std::shared_ptr<tt::tt_device_image> tti, const tt::tt_backend_config &config);
    //! Not supported (eager mode): throws std::runtime_error.
    static std::shared_ptr<tt_backend> create_eager_backend(
        const tt::tt_backend_config &config, const std::set<int> &target_devices) {
        (void)config;
        (void)target_devices;
        ttrt::buda::detail::report(
            "tt_backend::create_eager_backend: not supported: ttrt runs precompiled netlists only", false);
        throw std::runtime_error(ttrt::buda::last_error());
    }

   protected:
    tt::tt_backend_config config;
    std::string netlist_path;
};

namespace ttrt::buda::detail {

//! ttrt's tt_backend.
class backend final : public tt_backend {
   public:
    backend(const ttrt_image *image, const std::string &path, const tt::tt_backend_config &cfg) {
        config = cfg;
        netlist_path = path;
        if (cfg.type == tt::DEVICE::Model || cfg.type == tt::DEVICE::StaticAnalyzer) {
            throw_message(std::string("tt_backend::create: backend type ") +
                          (cfg.type == tt::DEVICE::Model ? "Model" : "StaticAnalyzer") +
                          " is not supported (ttrt runs Silicon, Versim, Emulation and Golden images on its device)");
        }
        ttrt_backend_config c;
        ttrt_backend_config_default(&c);
        if (!cfg.soc_descriptor_path.empty()) {
            c.soc_descriptor = cfg.soc_descriptor_path.c_str();
        }
        c.harvested_rows = harvesting_mask(cfg.harvested_rows);
        c.arch = c_arch(cfg.arch);
        c.golden = cfg.type == tt::DEVICE::Golden ? 1 : 0;
        auto created = std::make_shared<backend_state>();
        created->netlist_path = path;
        created->type = cfg.type;
        if (ttrt_backend_create(image, &c, &created->backend) != TTRT_STATUS_SUCCESS) {
            throw_c_error();
        }
        std::size_t n = ttrt_backend_program_count(created->backend);
        for (std::size_t i = 0; i < n; i++) {
            const char *name = ttrt_backend_program_name(created->backend, i);
            if (name == nullptr) {
                throw_c_error();
            }
            programs.emplace_back(name);
        }
        state = created;
        register_backend(state);
    }

    tt::DEVICE_STATUS_CODE initialize() override {
        if (config.mode == tt::DEVICE_MODE::CompileOnly) {
            return fail(
                "tt_backend::initialize: DEVICE_MODE::CompileOnly is not supported: ttrt compiles "
                "nothing (use CompileAndRun or RunOnly)");
        }
        return status(ttrt_backend_initialize(state->backend));
    }

    tt::DEVICE_STATUS_CODE finish() override { return status(ttrt_backend_finish(state->backend)); }

    tt::DEVICE_STATUS_CODE run_program(
        const std::string &program_name, const std::map<std::string, std::string> &parameters) override {
        std::vector<ttrt_program_param> params;
        auto it = std::find(programs.begin(), programs.end(), program_name);
        if (it != programs.end()) {
            std::size_t program = static_cast<std::size_t>(it - programs.begin());
            std::size_t n = ttrt_backend_program_param_count(state->backend, program);
            for (std::size_t i = 0; i < n; i++) {
                const char *declared = ttrt_backend_program_param_name(state->backend, program, i);
                if (declared == nullptr) {
                    return status(TTRT_STATUS_INVALID_ARGUMENT);
                }
                auto given = parameters.find(declared);
                if (given != parameters.end()) {
                    params.push_back(ttrt_program_param{given->first.c_str(), given->second.c_str()});
                }
            }
        }
        // An unknown program, or a declared parameter not given: ttrt says which.
        return status(ttrt_backend_run_program(
            state->backend, program_name.c_str(), params.empty() ? nullptr : params.data(), params.size()));
    }

    tt::DEVICE_STATUS_CODE wait_for_idle() override { return status(ttrt_backend_wait_for_idle(state->backend)); }

    tt::DEVICE_STATUS_CODE memory_barrier(
        tt::MemBarType barrier_type, int chip, const std::unordered_set<tt_xy_pair> &cores = {}) override {
        (void)cores;
        return fail("tt_backend::memory_barrier: not supported (barrier type " +
                    std::to_string(static_cast<int>(barrier_type)) + ", chip " + std::to_string(chip) +
                    "): ttrt's device orders host and device accesses itself; use wait_for_idle");
    }

    const tt::tt_dram_io_desc get_queue_descriptor(const std::string &queue_name) override {
        ttrt_io_desc c = {};
        if (ttrt_backend_get_queue_descriptor(state->backend, queue_name.c_str(), &c) != TTRT_STATUS_SUCCESS) {
            report(c_error(), false);
            throw_c_error();
        }
        tt::tt_dram_io_desc q = buda_queue(c);
        q.netlist_path = netlist_path;
        q.backend_type = config.type;
        q.ttrt_backend = state;
        return q;
    }

    const std::vector<std::string> &get_programs() override { return programs; }

    //! ttrt: the backend handle, for calls this API has no name for.
    ttrt_backend *get_ttrt_backend() const { return state->backend; }

   private:
    [[noreturn]] static void throw_message(const std::string &message) {
        report(message, false);
        throw std::runtime_error(message);
    }

    //! Buda's harvested rows of the chip the backend runs on (chip 0: ttrt drives one chip) as the
    //! mask ttrt takes, bit `r` for NOC row `r`. Entries for other chips are ignored, as Buda ignores
    //! chips the workload does not use; which rows a chip may harvest is ttrt's to check.
    static std::uint64_t harvesting_mask(const std::unordered_map<int, std::vector<std::uint32_t>> &rows) {
        std::uint64_t mask = 0;
        auto chip = rows.find(0);
        if (chip == rows.end()) {
            return 0;
        }
        for (std::uint32_t r : chip->second) {
            if (r >= 64) {
                throw_message("tt_backend::create: harvested_rows: row " + std::to_string(r) +
                              " of chip 0 is not a NOC row (rows are 0-63)");
            }
            mask |= std::uint64_t{1} << r;
        }
        return mask;
    }

    static std::uint32_t c_arch(tt::ARCH arch) {
        switch (arch) {
            case tt::ARCH::Invalid: return 0;
            case tt::ARCH::GRAYSKULL: return TTRT_ARCH_GRAYSKULL;
            case tt::ARCH::WORMHOLE_B0: return TTRT_ARCH_WORMHOLE_B0;
            case tt::ARCH::BLACKHOLE: return TTRT_ARCH_BLACKHOLE;
            default:
                throw_message("tt_backend::create: arch " + std::to_string(static_cast<int>(arch)) +
                              " is not supported (Grayskull, Wormhole_B0, Blackhole, or Invalid for the image's)");
        }
    }

    std::shared_ptr<backend_state> state;
    std::vector<std::string> programs;
};

//! The devtype of `image` as a Buda device type (Silicon when it has none: a bare netlist).
inline tt::DEVICE device_of(const tt::tt_device_image &image) {
    const char *devtype = ttrt_image_devtype(image.get_ttrt_image());
    std::string d = devtype != nullptr ? devtype : "Silicon";
    if (d == "Golden") return tt::DEVICE::Golden;
    if (d == "Model") return tt::DEVICE::Model;
    if (d == "Versim") return tt::DEVICE::Versim;
    if (d == "Emulation") return tt::DEVICE::Emulation;
    if (d == "StaticAnalyzer") return tt::DEVICE::StaticAnalyzer;
    return tt::DEVICE::Silicon;
}

}  // namespace ttrt::buda::detail

inline std::shared_ptr<tt_backend> tt_backend::create(
    const std::shared_ptr<tt::tt_device_image> tti, const tt::tt_backend_config &config) {
    if (!tti) {
        ttrt::buda::detail::report("tt_backend::create: argument `tti` is null", false);
        throw std::runtime_error(ttrt::buda::last_error());
    }
    tt::tt_backend_config c(config);
    c.tti = tti;
    if (c.type == tt::DEVICE::Invalid) {
        c.type = ttrt::buda::detail::device_of(*tti);
    }
    c.mode = tt::DEVICE_MODE::RunOnly;
    return std::make_shared<ttrt::buda::detail::backend>(tti->get_ttrt_image(), tti->get_image_path(), c);
}

inline std::shared_ptr<tt_backend> tt_backend::create(
    const std::string &netlist_path, const tt::tt_backend_config &config) {
    if (config.tti) {
        tt::tt_backend_config c(config);
        if (c.type == tt::DEVICE::Invalid) {
            c.type = ttrt::buda::detail::device_of(*config.tti);
        }
        return std::make_shared<ttrt::buda::detail::backend>(config.tti->get_ttrt_image(), netlist_path, c);
    }
    ttrt_image *image = nullptr;
    if (ttrt_image_open(netlist_path.c_str(), &image) != TTRT_STATUS_SUCCESS) {
        ttrt::buda::detail::throw_c_error();
    }
    // The backend reads what it needs at create; the image is closed either way.
    std::unique_ptr<ttrt_image, void (*)(ttrt_image *)> owned(image, ttrt_image_free);
    tt::tt_backend_config c(config);
    if (c.type == tt::DEVICE::Invalid) {
        c.type = tt::DEVICE::Silicon;
    }
    return std::make_shared<ttrt::buda::detail::backend>(image, netlist_path, c);
}

#endif  // TTRT_BUDA_TT_BACKEND_HPP
