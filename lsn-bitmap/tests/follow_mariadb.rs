//! The redo log follower (`innodb_page::redo::follow`) against a real, running MariaDB 10.11
//! (fails, never skips, without it): it follows the live `ib_logfile0` under a write load with
//! contiguous, increasing mtrs up to the server's `Innodb_lsn_current`, and it detects being
//! overtaken when paused on a small log under heavy load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use innodb_page::redo::follow::{FollowError, FollowOptions, Follower, PollStop};
use innodb_page::Lsn;
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

fn space_id(server: &Sandbox, name: &str) -> u32 {
    server
        .query_u64(&format!(
            "SELECT SPACE FROM information_schema.INNODB_SYS_TABLES WHERE NAME = '{name}'"
        ))
        .unwrap() as u32
}

/// One batch of the write load: a multi-row INSERT and an UPDATE of recent rows.
fn load_batch(server: &Sandbox, table: &str, batch: u32, rows: u32, pad: u32) {
    let mut sql = format!("INSERT INTO {table} (v, pad) VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "({}, REPEAT('p', {}))",
            batch * rows + i,
            pad + i % 50
        ));
    }
    sql.push_str(&format!(
        "; UPDATE {table} SET v = v + 1 WHERE id % 7 = {} ORDER BY id DESC LIMIT {rows};",
        batch % 7
    ));
    server.sql_batch(&sql).expect("load batch");
}

#[test]
fn follows_a_live_log_under_load_to_the_current_lsn() {
    let t0 = Instant::now();
    let dir = short_tempdir().unwrap();
    let server = Sandbox::create(dir.path(), &SandboxOptions::default()).expect("start MariaDB");
    server
        .sql(
            "CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, \
             pad VARCHAR(400)) ENGINE=InnoDB;",
        )
        .unwrap();
    let space = space_id(&server, "d/t");
    let log = server.datadir().join("ib_logfile0");
    let mut f = Follower::at_checkpoint(&log, FollowOptions::default()).unwrap();
    let start = f.lsn();
    assert!(start.get() >= 0x3000);

    let stop = AtomicBool::new(false);
    let mut last_end = start;
    let mut mtrs = 0u64;
    let mut table_pages = 0u64;
    let mut polls_with_data = 0;
    let mut visit = |m: &innodb_page::redo::follow::FollowedMtr<'_>| {
        assert_eq!(m.start_lsn(), last_end, "mtrs must be contiguous");
        assert!(m.end_lsn() > m.start_lsn());
        assert_eq!(m.len(), m.as_bytes().len() as u64);
        last_end = m.end_lsn();
        mtrs += 1;
        for r in m.records()? {
            let r = r.expect("a CRC-valid mtr has well-formed records");
            if r.changed_page().is_some_and(|p| p.space_id == space) {
                table_pages += 1;
            }
        }
        Ok::<(), FollowError>(())
    };
    std::thread::scope(|s| {
        let load = s.spawn(|| {
            let t = Instant::now();
            let mut b = 0;
            while t.elapsed() < Duration::from_secs(4) {
                load_batch(&server, "d.t", b, 200, 100);
                b += 1;
            }
            stop.store(true, Ordering::SeqCst);
            b
        });
        while !stop.load(Ordering::SeqCst) {
            let p = f.poll(None, &mut visit).unwrap();
            if p.mtrs > 0 {
                polls_with_data += 1;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        let batches = load.join().unwrap();
        assert!(batches > 3, "only {batches} load batches ran");
    });
    // After the load and a checkpoint, the follower reaches the server's current LSN.
    server.checkpoint().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let reached = loop {
        let current = Lsn::new(server.lsn_current().unwrap());
        let p = f.poll(None, &mut visit).unwrap();
        assert_eq!(p.stop, PollStop::CaughtUp);
        if f.lsn() == current {
            break current;
        }
        assert!(
            Instant::now() < deadline,
            "follower at {} never reached Innodb_lsn_current {current}",
            f.lsn()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let stats = f.stats();
    assert_eq!(stats.mtrs, mtrs);
    assert_eq!(stats.bytes, reached.get() - start.get());
    assert!(
        polls_with_data > 5,
        "followed while the load ran ({polls_with_data} polls)"
    );
    assert!(table_pages > 100, "pages of d.t changed: {table_pages}");
    eprintln!(
        "followed {} mtrs, {} bytes of redo in {:?} ({} polls, {} batches)",
        stats.mtrs,
        stats.bytes,
        t0.elapsed(),
        stats.polls,
        stats.batches
    );
    assert!(t0.elapsed() < Duration::from_secs(60));
}

/// The smallest `innodb_log_file_size` MariaDB 10.11 accepts: 4 MiB (it raises 1M to 4M).
const MIN_LOG: &str = "4M";

#[test]
fn detects_being_overtaken_on_a_small_log() {
    let t0 = Instant::now();
    let dir = short_tempdir().unwrap();
    let opts = SandboxOptions::default().option("innodb_log_file_size", MIN_LOG);
    let server = Sandbox::create(dir.path(), &opts).expect("start MariaDB with a small log");
    let size = std::fs::metadata(server.datadir().join("ib_logfile0"))
        .unwrap()
        .len();
    assert_eq!(
        size,
        4 << 20,
        "innodb_log_file_size={MIN_LOG} was not accepted"
    );
    server
        .sql(
            "CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, \
             pad VARCHAR(400)) ENGINE=InnoDB;",
        )
        .unwrap();
    let log = server.datadir().join("ib_logfile0");
    let mut f = Follower::at_checkpoint(&log, FollowOptions::default()).unwrap();
    let at = f.lsn().get();
    let capacity = f.geometry().capacity();
    // Paused follower: the server writes (and checkpoints past) more than two capacities.
    let mut b = 0;
    while server.lsn_last_checkpoint().unwrap() < at + 2 * capacity {
        load_batch(&server, "d.t", b, 300, 300);
        b += 1;
        assert!(t0.elapsed() < Duration::from_secs(45), "load too slow");
    }
    let mut delivered = 0;
    let e = f
        .poll(None, |_| {
            delivered += 1;
            Ok::<(), FollowError>(())
        })
        .unwrap_err();
    match &e {
        FollowError::Overtaken {
            lsn,
            checkpoint,
            capacity: c,
            ..
        } => {
            assert_eq!(lsn.get(), at);
            assert!(checkpoint.get() > at);
            assert_eq!(*c, capacity);
        }
        other => panic!("expected Overtaken, got {other}"),
    }
    assert_eq!(delivered, 0);
    eprintln!("{e}");
    // A follower started now at the checkpoint is fine again.
    let mut g = Follower::at_checkpoint(&log, FollowOptions::default()).unwrap();
    g.poll(None, |_| Ok::<(), FollowError>(())).unwrap();
    // And one asked to start at the overwritten LSN is refused.
    let e = Follower::at_lsn(&log, Lsn::new(at), FollowOptions::default()).unwrap_err();
    assert!(matches!(e, FollowError::NotInLog { .. }), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(60));
}

#[test]
fn encrypted_log_is_framed_but_its_page_ids_are_refused() {
    let t0 = Instant::now();
    let dir = short_tempdir().unwrap();
    let keys = dir.path().join("keys.txt");
    std::fs::write(
        &keys,
        "1;0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let opts = SandboxOptions::default()
        .option("plugin_load_add", "file_key_management")
        .option("file_key_management_filename", keys.to_string_lossy())
        .option("innodb_encrypt_log", "ON");
    let server = Sandbox::create(dir.path().join("s"), &opts).expect("start an encrypted MariaDB");
    let log = server.datadir().join("ib_logfile0");
    // Page ids needed (the default): refused, saying why.
    let e = Follower::at_checkpoint(&log, FollowOptions::default()).unwrap_err();
    assert!(matches!(e, FollowError::EncryptedPageIds { .. }), "{e}");
    assert!(e.to_string().contains("encrypted"), "{e}");
    // The tracker refuses it too.
    let bm = dir.path().join("bm");
    std::fs::create_dir(&bm).unwrap();
    let t = lsn_bitmap::track::Tracker::open(
        &lsn_bitmap::track::TrackOptions::new(server.datadir(), &bm),
        &innodb_page::progress::NoProgress,
    )
    .unwrap_err();
    assert!(t.to_string().contains("page ids"), "{t}");
    assert!(
        lsn_bitmap::BitmapDir::open(&bm).unwrap().files().is_empty(),
        "nothing written"
    );
    // Framing only: every mtr (with its nonce) is read up to the server's current LSN.
    let fopts = FollowOptions::default().needs(innodb_page::redo::follow::Needs::Framing);
    let mut f = Follower::at_checkpoint(&log, fopts).unwrap();
    assert!(f.encryption().hides_page_ids());
    server
        .sql(
            "CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, \
             pad VARCHAR(400)) ENGINE=InnoDB;",
        )
        .unwrap();
    for b in 0..5 {
        load_batch(&server, "d.t", b, 100, 100);
    }
    server.checkpoint().unwrap();
    let mut last = f.lsn();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let current = Lsn::new(server.lsn_current().unwrap());
        f.poll(None, |m| {
            assert_eq!(m.start_lsn(), last);
            assert_eq!(m.len(), m.record_bytes().len() as u64 + 1 + 8 + 4);
            assert!(matches!(
                m.records(),
                Err(FollowError::EncryptedPageIds { .. })
            ));
            last = m.end_lsn();
            Ok::<(), FollowError>(())
        })
        .unwrap();
        if f.lsn() == current {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stuck at {} < {current}",
            f.lsn()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(f.stats().mtrs > 100);
    assert!(t0.elapsed() < Duration::from_secs(60));
}

/// Key 1 of the encrypted servers, as bytes.
fn key1_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn encrypted_log_is_decrypted_with_the_key() {
    use innodb_page::crypto::cipher::Mode;
    use innodb_page::redo::crypt::{check_structure, ServerKey};
    let t0 = Instant::now();
    let dir = short_tempdir().unwrap();
    let hex = "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef";
    let keys = dir.path().join("keys.txt");
    std::fs::write(
        &keys,
        format!("1;{hex}\n2;F5502320F8429037B8DAEF761B189D12\n"),
    )
    .unwrap();
    let opts = SandboxOptions::default()
        .option("plugin_load_add", "file_key_management")
        .option("file_key_management_filename", keys.to_string_lossy())
        .option("innodb_encrypt_log", "ON")
        .option("innodb_encrypt_tables", "ON");
    let server = Sandbox::create(dir.path().join("s"), &opts).expect("start an encrypted MariaDB");
    let log = server.datadir().join("ib_logfile0");
    let key = ServerKey::new(&key1_bytes(hex)).unwrap();
    // The key given: page ids are needed (the default) and accepted.
    let mut f =
        Follower::at_checkpoint(&log, FollowOptions::default().decrypt_with(key, Mode::Cbc))
            .unwrap();
    assert!(f.encryption().hides_page_ids());
    // Another key 1 is refused at the checkpoint's FILE_CHECKPOINT record.
    let wrong = ServerKey::new(&[0x5Au8; 32]).unwrap();
    let e = Follower::at_checkpoint(
        &log,
        FollowOptions::default().decrypt_with(wrong, Mode::Cbc),
    )
    .unwrap_err();
    assert!(matches!(e, FollowError::WrongKey { .. }), "{e}");
    let checkpoint = f.lsn();
    server
        .sql(
            "CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, \
             pad VARCHAR(400)) ENGINE=InnoDB ENCRYPTION_KEY_ID=2;",
        )
        .unwrap();
    let space = space_id(&server, "d/t");
    for b in 0..5 {
        load_batch(&server, "d.t", b, 100, 100);
    }
    let current = Lsn::new(server.lsn_current().unwrap());
    let (mut mtrs, mut table_pages, mut file_records) = (0u64, 0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(15);
    while f.lsn() < current {
        f.poll(None, |m| {
            let plain = m.plain_records().expect("decrypted");
            check_structure(plain).unwrap_or_else(|e| panic!("mtr at {}: {e}", m.start_lsn()));
            for r in m.records()? {
                let r = r.expect("decrypted records are well-formed");
                table_pages += u64::from(r.changed_page().is_some_and(|p| p.space_id == space));
                file_records += u64::from(r.page_id().is_none());
            }
            mtrs += 1;
            Ok::<(), FollowError>(())
        })
        .unwrap();
        assert!(
            Instant::now() < deadline,
            "stuck at {} < {current}",
            f.lsn()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(mtrs > 100, "{mtrs}");
    assert!(
        table_pages > 10,
        "pages of d/t (space {space}): {table_pages}"
    );
    assert!(file_records > 0, "FILE_CREATE of d/t.ibd");
    // The same log read from the checkpoint by the plain mtr reader with the key: every mtr
    // decrypts to well-formed records; in the wrong mode (CTR) some do not.
    let redo = innodb_page::redo::open(&log).unwrap();
    let read_all = |mode| {
        let mut r = redo.mtr_reader_decrypting(checkpoint, &key, mode).unwrap();
        let (mut good, mut bad) = (0u64, 0u64);
        while let Some(m) = r.next_mtr().unwrap() {
            match check_structure(m.plain_records().unwrap()) {
                Ok(()) => good += 1,
                Err(_) => bad += 1,
            }
        }
        (good, bad, r.lsn())
    };
    let (good, bad, end) = read_all(Mode::Cbc);
    assert_eq!(bad, 0);
    assert!(good >= mtrs && end >= current, "{good} {end}");
    let (ctr_good, bad, _) = read_all(Mode::Ctr);
    assert!(bad > 0, "the wrong mode is noticed");
    eprintln!(
        "followed {mtrs} mtrs ({table_pages} records on d/t, {file_records} file records); \
         read {good} from the checkpoint; as CTR {bad} of {} malformed",
        ctr_good + bad
    );
    assert!(t0.elapsed() < Duration::from_secs(60));
}

#[test]
fn follows_an_online_log_resize() {
    let t0 = Instant::now();
    let dir = short_tempdir().unwrap();
    let server = Sandbox::create(dir.path(), &SandboxOptions::default()).expect("start MariaDB");
    server
        .sql(
            "CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, \
             pad VARCHAR(400)) ENGINE=InnoDB;",
        )
        .unwrap();
    let log = server.datadir().join("ib_logfile0");
    let mut f = Follower::at_checkpoint(&log, FollowOptions::default()).unwrap();
    let old_size = std::fs::metadata(&log).unwrap().len();
    let mut last = f.lsn();
    let mut visit = |m: &innodb_page::redo::follow::FollowedMtr<'_>| {
        assert_eq!(m.start_lsn(), last, "mtrs must be contiguous");
        last = m.end_lsn();
        for r in m.records()? {
            r.expect("well-formed records");
        }
        Ok::<(), FollowError>(())
    };
    for b in 0..3 {
        load_batch(&server, "d.t", b, 200, 100);
        f.poll(None, &mut visit).unwrap();
    }
    // MariaDB 10.11 resizes the log online: ib_logfile101 is written alongside, then renamed
    // over ib_logfile0 once a checkpoint passes the resize LSN.
    server
        .sql("SET GLOBAL innodb_log_file_size = 32 * 1024 * 1024")
        .unwrap();
    for b in 3..8 {
        load_batch(&server, "d.t", b, 200, 100);
        f.poll(None, &mut visit).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    server.checkpoint().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        load_batch(&server, "d.t", 100, 10, 10);
        let size = std::fs::metadata(&log).unwrap().len();
        f.poll(None, &mut visit).unwrap();
        if size != old_size && f.stats().reopens > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no switch to the resized log (size {size}, reopens {})",
            f.stats().reopens
        );
        server.checkpoint().unwrap();
    }
    assert_eq!(f.geometry().capacity(), (32 << 20) - 0x3000);
    server.checkpoint().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let current = Lsn::new(server.lsn_current().unwrap());
        f.poll(None, &mut visit).unwrap();
        if f.lsn() == current {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stuck at {} < {current}",
            f.lsn()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(t0.elapsed() < Duration::from_secs(60));
}
