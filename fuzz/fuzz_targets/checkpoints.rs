//! The `xtrabackup_checkpoints` and `xtrabackup_info` parsers on arbitrary bytes: no panic,
//! and what they accept survives a write and a new parse.
#![no_main]
use incremental_core::format::checkpoints::Checkpoints;
use incremental_core::format::info::Info;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Checkpoints::parse(data) {
        let bytes = c.to_bytes();
        let back = Checkpoints::parse(&bytes).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.to_bytes(), bytes);
        for log_only in [false, true] {
            let _ = c.prepared(log_only);
            let _ = c.apply_incremental(&back, log_only);
        }
    }
    if let Ok(info) = Info::parse(data) {
        let bytes = info.to_bytes();
        let back = Info::parse(&bytes).unwrap();
        assert_eq!(back, info);
        assert_eq!(back.to_bytes(), bytes);
        let _ = (info.innodb_from_lsn(), info.innodb_to_lsn(), info.partial());
    }
});
