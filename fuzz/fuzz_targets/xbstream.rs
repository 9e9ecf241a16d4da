//! The xbstream reader on arbitrary bytes: no panic and bounded memory (a claimed length is
//! never allocated before its bytes are read); when the reader accepts a whole stream, the
//! index of the same bytes accepts it too, and lists each file with the bytes the reader gave.
#![no_main]
use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::PathBuf;

use incremental_core::xbstream::reader::{Body, StreamReader};
use incremental_core::xbstream::StreamIndex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut files: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    let mut seeks = false;
    for c in StreamReader::new(data) {
        let Ok(c) = c else {
            return;
        };
        let path = PathBuf::from(String::from_utf8_lossy(&c.path).into_owned());
        match c.body {
            Body::Data(d) => {
                assert_eq!(d.bytes.len() as u64, d.len);
                assert!(d.bytes.len() <= 1 << 20);
                files.entry(path).or_default().extend(&d.bytes);
            }
            Body::End => {
                files.entry(path).or_default();
            }
            _ => seeks = true,
        }
    }
    let mut cursor = Cursor::new(data);
    let index = StreamIndex::build(&mut cursor).expect("the index accepts what the reader did");
    if seeks || data.iter().any(|&b| b >= 0x80) {
        return; // renames, removes, holes; or paths that are not UTF-8
    }
    assert_eq!(index.files().count(), files.len());
    for (path, bytes) in &files {
        let f = index.get(path).expect("listed");
        let mut got = Vec::new();
        f.view(Cursor::new(data)).read_to_end(&mut got).unwrap();
        assert_eq!(&got, bytes);
    }
});
