//! `device.json` of a TTI image.
