//! `serde::Serialize` for the types whose JSON form is their name (behind the `serde` feature).
//! Kept apart from the `serialize_with` helpers in `crate::ser`, which the reports of `redo`
//! and `verify` use, so that `ser` names nothing of `redo`.

use serde::{Serialize, Serializer};

use crate::page_type::Vendor;
use crate::redo::{Encryption as RedoEncryption, RedoFormat};
use crate::PageType;

macro_rules! by_name {
    ($($t:ty),*) => {$(
        /// Its name.
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.name())
            }
        }
    )*};
}

by_name!(Vendor, PageType, RedoFormat, RedoEncryption);
