//! xbstream, the stream format of `mariabackup --stream=xbstream` and `mbstream`, both ways.
//!
//! * [`chunk`]: the chunk layout and the path rules;
//! * [`reader`]: reading a stream, every check made ([`StreamReader`]);
//! * [`writer`]: writing one, with only the chunks every extractor reads ([`StreamWriter`]);
//! * [`index`]: the files of a stream saved to a file, read in place ([`StreamIndex`]);
//! * [`extract`](mod@extract): `mbstream -x`'s job, into any [`Sink`](crate::backup::sink::Sink),
//!   refusing what would leave the target or is incomplete;
//! * [`sink`]: [`StreamSink`], a [`Sink`](crate::backup::sink::Sink) that writes a backup as
//!   a stream;
//! * [`source`]: [`StreamSource`], a [`BackupSource`](crate::source::BackupSource) reading a
//!   backup straight from a stream file (copy-back without extracting).
//!
//! Streams are MariaDB's: its seek (`S`), rename (`R`) and remove (`D`) chunks are read;
//! Percona XtraBackup's sparse chunk (also `S`) is recognised and refused.

pub mod chunk;
mod error;
pub mod extract;
pub mod index;
pub mod reader;
pub mod sink;
pub mod source;
pub mod writer;

pub use error::XbstreamError;
pub use extract::{extract, ExtractOptions, ExtractReport};
pub use index::{FileView, IndexedFile, StreamIndex};
pub use reader::StreamReader;
pub use sink::StreamSink;
pub use source::{StreamSource, StreamSourceError};
pub use writer::StreamWriter;
