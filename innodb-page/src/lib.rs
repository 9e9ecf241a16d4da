#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod checksum;
pub mod crypto;
pub mod datadir;
pub mod error;
pub mod flags;
pub mod fsp;
pub mod lsn;
pub mod page;
pub mod page_type;
pub mod progress;
pub mod redo;
#[cfg(feature = "serde")]
mod ser;
#[cfg(feature = "serde")]
mod serde_impls;
pub mod tablespace;
pub mod verify;

pub use error::{Error, PageError};
pub use lsn::Lsn;
pub use page::Page;
pub use page_type::PageType;
