//! Tar and zip archives read in place.
