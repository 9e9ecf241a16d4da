//! The `.delta` readers on arbitrary bytes: no panic, the streaming and the random-access
//! reader agree, and a delta in canonical form is rewritten byte for byte by both writers.
#![no_main]
use std::io::Cursor;

use incremental_core::format::delta::{
    validate, Checks, DeltaIndex, DeltaReader, DeltaWriter, PageSize, SeekDeltaWriter,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let p = PageSize::new(1024 << (selector & 1)).unwrap();
    let checks = if selector & 2 != 0 {
        Checks::STRICT
    } else {
        Checks::COMPATIBLE
    };

    let streamed = validate(bytes, p, checks);
    let indexed = DeltaIndex::read(&mut Cursor::new(bytes), p, checks);
    match (&streamed, &indexed) {
        (Ok(a), Ok(b)) => assert_eq!(*a, b.summary()),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("readers disagree: {streamed:?} vs {indexed:?}"),
    }

    // Canonical form: what a writer produces. Rewriting its pages gives the same bytes.
    let canonical = Checks::STRICT.with_page_numbers_match(false);
    if let Ok(index) = DeltaIndex::read(&mut Cursor::new(bytes), p, canonical) {
        let mut src = Cursor::new(bytes);
        let mut w = DeltaWriter::new(Vec::new(), p);
        let mut s = SeekDeltaWriter::new(Cursor::new(Vec::new()), p).unwrap();
        let mut page = vec![0u8; p.get()];
        let mut r = DeltaReader::new(bytes, p);
        for i in 0..index.len() {
            let n = index.read_page(&mut src, i, &mut page).unwrap();
            let streamed = r.next_page().unwrap().unwrap();
            assert_eq!((streamed.page_no, streamed.data), (n, &page[..]));
            w.push(n, &page).unwrap();
            s.push(n, &page).unwrap();
        }
        assert!(r.next_page().unwrap().is_none());
        assert_eq!(w.finish().unwrap().0, bytes);
        assert_eq!(s.finish().unwrap().0.into_inner(), bytes);
    }
});
