//! The README's main job as a test: `scripts/demo`'s flow (throwaway MariaDB, full and
//! incremental backup with this `xb`, prepare, copy-back, server on the restored datadir) must end
//! with every table's CHECKSUM TABLE equal to the source's.

#[test]
fn demo_flow_restores_what_the_source_had() {
    let mut out = Vec::new();
    let result = xb_examples::demo::run(env!("CARGO_BIN_EXE_xb").as_ref(), &mut out);
    let text = String::from_utf8_lossy(&out);
    match result {
        Ok(all_match) => assert!(all_match, "checksums differ:\n{text}"),
        Err(e) => panic!("demo failed: {e}\n{text}"),
    }
    assert!(
        text.contains("shop.orders") && text.contains("match"),
        "{text}"
    );
}
