//! Test kit of the xb crates (not published): what their tests and the examples share.
//!
//! * [`sandbox`]: a throwaway MariaDB server that lives in one directory, and helpers around it
//!   (copying a tree, the page LSNs of a datadir, short temporary directories).
//! * [`load`]: a write load with invariants, for hot-backup tests.
//! * [`s3`]: a throwaway S3-protocol server (moto) on 127.0.0.1 that tests can cut off or
//!   hang, for the repository tests.
//!
//! Every crate of the workspace uses it as a dev-dependency (a path without a version, so that
//! `cargo package` leaves it out of the published manifests).
#![deny(missing_docs)]

pub mod faults;
pub mod load;
pub mod s3;
pub mod sandbox;
