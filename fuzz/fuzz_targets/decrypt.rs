#![no_main]
//! Arbitrary bytes into the decoders of compressed and encrypted backup files
//! (`incremental_core::codec::decode_to`): the first byte chooses the layers (`.zst`, `.lz4`,
//! `.age`, `.zst.age`, `.lz4.age`), the rest is the file. The identity is a fixed test key, so
//! seeds encrypted to its public key (age14l64fe7f8lsa3enjkz70snz28l27pncxu8rdmks249pz7gxehggsupl2c7,
//! see scripts/fuzz) reach the payload. Decoding must fail or succeed, never panic.
use incremental_core::codec::{decode_to, KeyFile};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const IDENTITY: &str = "AGE-SECRET-KEY-13GDQHAR08PXHVN8QFRGX2N49DTA282SZMJV282VT8WJVFKEQ7DEQMFSEF8";
const NAMES: [&str; 5] = ["f.zst", "f.lz4", "f.age", "f.zst.age", "f.lz4.age"];

fuzz_target!(|data: &[u8]| {
    let (first, rest) = data.split_first().unwrap_or((&0, &[]));
    let name = NAMES[usize::from(*first) % NAMES.len()];
    // parsed once: deriving the identity's key pair would otherwise be most of each run
    static KEYS: OnceLock<KeyFile> = OnceLock::new();
    let keys = KEYS.get_or_init(|| KeyFile::parse(IDENTITY, "fuzz").unwrap());
    let mut out = Vec::new();
    let _ = decode_to(name.as_ref(), rest, &mut out, Some(keys));
    let _ = KeyFile::parse(&String::from_utf8_lossy(rest), "fuzz");
});
