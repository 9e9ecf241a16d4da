//! The backup engine (being written).
