//! Tensor files of a TTI image (`.bin`, `.tbin`).
