//! The applier (being written).
