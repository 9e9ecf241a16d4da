#![no_main]
//! Arbitrary bytes into the redo log parsers: header, checkpoint blocks of every format, log
//! blocks and the block scan, records, and the MariaDB 10.8+ mini-transaction scanner.
use innodb_page::redo::block::{self, LogBlock, RingGeometry, ScanRules};
use innodb_page::redo::header::FileHeader;
use innodb_page::redo::mtr::{self, LogGeometry, MtrReader, Records};
use innodb_page::redo::{checkpoint, RedoFormat};
use innodb_page::Lsn;
use libfuzzer_sys::fuzz_target;

fn u64_at(data: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(b) = data.get(off..off + 8) {
        a.copy_from_slice(b);
    }
    u64::from_le_bytes(a)
}

fuzz_target!(|data: &[u8]| {
    // The whole input as a file head.
    if let Ok(h) = FileHeader::parse(data) {
        let _ = (h.creator(), h.encryption(), h.start_lsn(), h.mysql_flags());
        let _ = h.created_by_backup();
    }
    // Parameters from the first 32 bytes, the rest as structures.
    let first = u64_at(data, 0);
    let cap = u64_at(data, 8);
    let start = u64_at(data, 16);
    let ctl = u64_at(data, 24);
    let body = data.get(32..).unwrap_or(&[]);

    let mut cps = Vec::new();
    for f in RedoFormat::ALL {
        cps.push(checkpoint::parse(f, body, 512, Lsn::new(first), Some(cap)));
        let _ = checkpoint::select(f, &cps);
    }
    if let Ok(b) = LogBlock::new(body) {
        let _ = (b.checksum(), b.is_valid_at(Lsn::new(start), true, true));
    }
    // Block scan over the body as a sequence of blocks.
    let rules = ScanRules::new((ctl >> 8) % 64)
        .check_epoch(ctl & 1 != 0)
        .mask_len_bit15(ctl & 2 != 0);
    let _ = block::scan(Lsn::new(start), rules, |l, buf| {
        let i = usize::try_from(l.wrapping_sub(start - start % 512) / 512).unwrap_or(usize::MAX);
        match i
            .checked_mul(512)
            .and_then(|o| body.get(o..o.checked_add(512)?))
        {
            Some(b) => {
                buf.copy_from_slice(b);
                Ok::<bool, ()>(true)
            }
            None => Ok(false),
        }
    });
    if let Ok(g) = RingGeometry::new(cap, ctl % 8, Lsn::new(start), first) {
        let _ = g.locate(Lsn::new(ctl));
    }
    // Records and the mtr scanner over the body as a circular area.
    let _ = Records::new(body).count();
    let _ = mtr::decode_varint(body);
    let cap_small = cap % 4096 + 1;
    if let Ok(g) = LogGeometry::new(Lsn::new(first), cap_small, ctl & 4 != 0) {
        let start = first.saturating_add(start % (4 * cap_small));
        let _ = mtr::scan_to_end(body, g, Lsn::new(start), Some(Lsn::new(start)), true);
        if let Ok(mut r) = MtrReader::new(body, g, Lsn::new(start)) {
            for _ in 0..256 {
                match r.next_mtr() {
                    Ok(Some(m)) => {
                        assert!(m.end_lsn() > m.start_lsn());
                        let _ = (m.records().count(), m.is_padding(), m.file_checkpoint_lsn());
                    }
                    _ => break,
                }
            }
        }
    }
});
