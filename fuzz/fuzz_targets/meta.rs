//! The `.meta` parser on arbitrary bytes: no panic, and what it accepts survives a write and a
//! new parse in both dialects.
#![no_main]
use incremental_core::format::{meta::Meta, Dialect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Meta::parse(data) else {
        return;
    };
    assert!(m.physical_page_size() <= m.page_size);
    let pxb = m.to_bytes(Dialect::Pxb80);
    assert_eq!(Meta::parse(&pxb).unwrap(), m);
    let mb = m.to_bytes(Dialect::MariaDb);
    let back = Meta::parse(&mb).unwrap();
    assert_eq!(
        back,
        Meta {
            space_flags: None,
            ..m
        }
    );
    assert_eq!(back.to_bytes(Dialect::MariaDb), mb);
});
