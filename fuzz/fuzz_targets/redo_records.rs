#![no_main]
//! Arbitrary bytes into the MariaDB 10.8+ record decoder (`LogRecords`) and the
//! mini-transaction reader (`MtrReader`) over a circular area of arbitrary geometry, with the
//! records of every mtr it accepts decoded too. Checks the invariants the follower and the
//! change tracker rely on: an accepted mtr's bytes are its records plus the trailer, its CRC
//! holds, mtrs are contiguous, and decoded records stay inside the record bytes. With control
//! bit 2 on an encrypted geometry the reader decrypts (`redo::crypt`, either style and mode,
//! a key from the input): the plaintext has the stored records' length and decodes too.
use innodb_page::crypto::cipher::Mode;
use innodb_page::redo::crypt::{check_structure, LogCipher, LogKey};
use innodb_page::redo::mtr::{LogGeometry, MtrReader};
use innodb_page::redo::record::{LogRecords, RecordKind};
use innodb_page::redo::Encryption;
use innodb_page::Lsn;
use libfuzzer_sys::fuzz_target;

fn u64_at(data: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(b) = data.get(off..off + 8) {
        a.copy_from_slice(b);
    }
    u64::from_le_bytes(a)
}

/// Decodes every record; checks offsets and kinds.
fn decode(records: &[u8]) {
    let mut last_end = 0usize;
    for r in LogRecords::new(records) {
        match r {
            Ok(rec) => {
                let len = rec.raw().as_bytes().len();
                assert!(rec.offset() >= last_end);
                assert!(rec.offset() + len <= records.len());
                last_end = rec.offset() + len;
                match rec.kind() {
                    RecordKind::Page { page, .. } => {
                        assert_eq!(rec.page_id(), Some(page));
                        if let Some(c) = rec.changed_page() {
                            assert_eq!(c, page);
                        }
                    }
                    RecordKind::File { .. } => assert_eq!(rec.page_id(), None),
                    _ => {}
                }
            }
            Err(e) => {
                assert!(e.offset <= records.len());
                let _ = e.to_string();
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The whole input as the record bytes of one mtr.
    decode(data);
    // Parameters from the first 24 bytes, the rest as a circular record area.
    let first = u64_at(data, 0) % (1 << 40);
    let cap = u64_at(data, 8) % 8192 + 1;
    let ctl = u64_at(data, 16);
    let area = data.get(24..).unwrap_or(&[]);
    let Ok(g) = LogGeometry::new(Lsn::new(first), cap, ctl & 1 != 0) else {
        return;
    };
    let start = first.saturating_add((ctl >> 1) % (3 * cap));
    let Ok(mut r) = MtrReader::new(area, g, Lsn::new(start)) else {
        return;
    };
    if ctl & 2 != 0 {
        r.set_limit(Some(Lsn::new(start.saturating_add((ctl >> 8) % (2 * cap)))));
    }
    if ctl & 4 != 0 {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&first.to_le_bytes());
        key[8..].copy_from_slice(&cap.to_le_bytes());
        let mode = if ctl & 8 != 0 { Mode::Ctr } else { Mode::Cbc };
        let style = if ctl & 16 != 0 {
            Encryption::MariaDb108
        } else {
            Encryption::MariaDbEnc11
        };
        r.set_cipher(LogCipher::new(LogKey::from_bytes(key), mode, style).ok());
    }
    let mut at = start;
    for _ in 0..512 {
        match r.next_mtr() {
            Ok(Some(m)) => {
                assert_eq!(m.start_lsn().get(), at);
                assert_eq!(m.as_bytes().len() as u64, m.len());
                assert_eq!(m.len(), m.record_bytes().len() as u64 + g.trailer_len());
                assert_eq!(&m.as_bytes()[..m.record_bytes().len()], m.record_bytes());
                let mut crc = crc32c::crc32c(m.record_bytes());
                if let Some(n) = m.nonce() {
                    crc = crc32c::crc32c_append(crc, &n);
                }
                assert_eq!(crc, m.checksum());
                decode(m.record_bytes());
                if let Some(plain) = m.plain_records() {
                    assert_eq!(plain.len(), m.record_bytes().len());
                    decode(plain);
                    let _ = check_structure(plain);
                    let _ = (m.records().count(), m.is_padding(), m.file_checkpoint_lsn());
                }
                at = m.end_lsn().get();
            }
            Ok(None) => {
                assert_eq!(r.lsn().get(), at);
                break;
            }
            Err(_) => break,
        }
    }
});
