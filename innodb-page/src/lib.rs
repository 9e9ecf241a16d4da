//! Zero-copy views of InnoDB on-disk structures, as written by MySQL 5.7/8.0, Percona Server and
//! MariaDB 10.x/11.x.
//!
//! * [`page`]: one page of any physical size (1 KiB compressed up to 64 KiB): the FIL header and
//!   trailer fields, the [`PageType`].
//! * [`flags`]: tablespace flags in all three layouts, decoded into page sizes and features.
//! * [`fsp`]: page 0 (the FSP header) and the tablespace format it implies.
//! * [`checksum`]: page checksum validation exactly as the servers decide corruption.
//! * [`datadir`]: which files of a data directory are tablespaces, redo logs, or other files.
//! * [`tablespace`]: reading whole tablespaces (one `.ibd`, or the multi-file system tablespace).
//! * [`verify`]: checking every page of a tablespace (checksum, page number, space id).
//! * [`redo`]: redo log headers and checkpoints of every supported server family.
//!
//! Nothing in this crate panics on any input: malformed data gives a typed error.
//!
//! ```
//! use innodb_page::{Page, PageType};
//! let mut buf = vec![0u8; 16384];
//! buf[24..26].copy_from_slice(&17855u16.to_be_bytes()); // FIL_PAGE_TYPE = INDEX
//! buf[16..24].copy_from_slice(&42u64.to_be_bytes());    // FIL_PAGE_LSN
//! let page = Page::new(&buf).unwrap();
//! assert_eq!(page.lsn().get(), 42);
//! assert_eq!(page.page_type(), PageType::Index);
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod checksum;
pub mod datadir;
pub mod error;
pub mod flags;
pub mod fsp;
pub mod lsn;
pub mod page;
pub mod page_type;
pub mod redo;
pub mod tablespace;
pub mod verify;

pub use error::{Error, PageError};
pub use lsn::Lsn;
pub use page::Page;
pub use page_type::PageType;
