# Cross-compiling ttrt for aarch64 Linux with Debian's gcc-aarch64-linux-gnu (and libc6-dev-*-cross):
#
#   cmake -S cmake -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchains/aarch64-linux-gnu.cmake
#
# The C compiler also links the Rust target (rustup target add aarch64-unknown-linux-gnu).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(TTRT_RUST_TARGET aarch64-unknown-linux-gnu CACHE STRING "Rust target triple (empty: the host)")
