//! Changed-page bitmap files (`ib_modified_log_<seq>_<startlsn>.xdb`) (being written).
#![deny(missing_docs)]
