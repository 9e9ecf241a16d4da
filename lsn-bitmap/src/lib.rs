#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod block;
mod block_bits;
pub mod checksum;
pub mod coverage;
pub mod datafiles;
pub mod dir;
pub mod dump;
pub mod error;
pub mod file;
mod layout;
pub mod name;
pub mod pageset;
pub mod purge;
#[cfg(feature = "serde")]
mod ser;
pub mod track;
pub mod verify;
pub mod writer;

pub use block::{Block, BlockBuf, BlockError, BlockKey, BLOCK_SIZE, PAGES_PER_BLOCK};
pub use coverage::QueryStats;
pub use datafiles::DataFileMap;
pub use dir::{BitmapDir, BitmapFile};
pub use dump::{BlockCount, DumpReport, FileDump, RangeDump, RunDump};
pub use error::{DirProblem, Error, RunProblem};
pub use file::{BlockReader, Run, RunReader, Tail};
pub use name::FileName;
pub use pageset::{BlockBits, ChangedPages, PageRanges, PageSet};
pub use verify::{verify_file, DirReport, FileReport};
pub use writer::{BitmapWriter, Recovery, WriterOptions, WrittenRun};
