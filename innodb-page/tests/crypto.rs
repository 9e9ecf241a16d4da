//! `innodb_page::crypto`: the AES primitives and the `file_key_management` key file, against
//! the test vectors of /work/shared/spec/encryption.md (verified on MariaDB 10.11.19), against
//! FIPS-197, and against key files written by the `openssl` command line tool.

use std::path::Path;
use std::process::Command;

use innodb_page::crypto::cipher::{self, Mode};
use innodb_page::crypto::keys::{FileKey, KeyError, KeyFile, LineProblem};
use innodb_page::crypto::CryptoError;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn h16(s: &str) -> [u8; 16] {
    h(s).try_into().unwrap()
}

/// IV of a FORMAT_ENC_11 mtr: nonce ‖ clear bytes of the first record ‖ zeros (spec §6.3).
fn mtr_iv(nonce: &str, clear: &str) -> [u8; 16] {
    let mut iv = h(nonce);
    iv.extend(h(clear));
    iv.resize(16, 0);
    iv.try_into().unwrap()
}

/// Key 1 of server A (spec §3).
const KEY1_A: &str = "0123456789ABCDEF0123456789abcdef00112233445566778899AABBCCDDEEFF";
/// The log key of server A (spec §6.7).
const LOG_KEY_A: &str = "3b562f32ed6615cd3936cd2f3f1e3059";
const LOG_KEY_B: &str = "573ca16d30e315a1e8620ca4e0e7f61b";

// ---- AES-ECB ----

#[test]
fn ecb_fips197_all_key_lengths() {
    let pt = h16("00112233445566778899aabbccddeeff");
    let key = h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    for (len, ct) in [
        (16, "69c4e0d86a7b0430d8cdb78070b4c55a"),
        (24, "dda97ca4864cdfe06eaf70a0ec0d7191"),
        (32, "8ea2b7ca516745bfeafc49904b496089"),
    ] {
        assert_eq!(
            cipher::ecb_encrypt_block(&key[..len], &pt).unwrap(),
            h16(ct),
            "AES-{}",
            len * 8
        );
    }
}

#[test]
fn ecb_derives_the_log_keys_and_page_key_of_the_spec() {
    // §6.7: log key of server A (32-byte key 1).
    let msg = h16("cc05bfbb098c86c01fb1bcbb72d3bc67");
    assert_eq!(
        cipher::ecb_encrypt_block(&h(KEY1_A), &msg).unwrap(),
        h16(LOG_KEY_A)
    );
    // §6.7 V3: server B, 16-byte key 1 = A0A1…AEAF.
    let key_b = h("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    let msg_b = h16("199a66f6d060ac895f589304ad1176ff");
    assert_eq!(
        cipher::ecb_encrypt_block(&key_b, &msg_b).unwrap(),
        h16(LOG_KEY_B)
    );
    // §8: page key of t/b.ibd (key id 2, 16 bytes).
    let key2 = h("F5502320F8429037B8DAEF761B189D12");
    let iv = h16("0851635f313e5e80948bc140f1ee95a7");
    assert_eq!(
        cipher::ecb_encrypt_block(&key2, &iv).unwrap(),
        h16("a002ea077bf4ec6a0d08fe11f33cc298")
    );
}

#[test]
fn bad_key_lengths_are_errors() {
    for len in [0, 1, 15, 17, 20, 31, 33, 64] {
        let key = vec![0u8; len];
        assert_eq!(
            cipher::ecb_encrypt_block(&key, &[0; 16]),
            Err(CryptoError::BadKeyLength { len })
        );
        let mut data = [0u8; 40];
        for mode in [Mode::Cbc, Mode::Ctr] {
            assert_eq!(
                cipher::decrypt_nopad(mode, &key, &[0; 16], &mut data),
                Err(CryptoError::BadKeyLength { len })
            );
            assert_eq!(
                cipher::encrypt_nopad(mode, &key, &[0; 16], &mut data),
                Err(CryptoError::BadKeyLength { len })
            );
        }
        assert_eq!(data, [0u8; 40], "data left untouched");
    }
}

#[test]
fn mode_names() {
    assert_eq!(Mode::from_name("aes_cbc"), Some(Mode::Cbc));
    assert_eq!(Mode::from_name("aes_ctr"), Some(Mode::Ctr));
    assert_eq!(Mode::from_name("AES_CTR"), Some(Mode::Ctr));
    assert_eq!(Mode::from_name("aes_gcm"), None);
    assert_eq!(Mode::from_name(""), None);
    assert_eq!(Mode::Ctr.to_string(), "aes_ctr");
}

// ---- NOPAD, the redo vectors of §6.7 ----

/// Decrypts `ct` and checks the plaintext; then encrypts it back to `ct`.
fn check(mode: Mode, key: &str, iv: [u8; 16], ct: &str, pt: &str) {
    let mut data = h(ct);
    cipher::decrypt_nopad(mode, &h(key), &iv, &mut data).unwrap();
    assert_eq!(data, h(pt), "{mode} decryption");
    cipher::encrypt_nopad(mode, &h(key), &iv, &mut data).unwrap();
    assert_eq!(data, h(ct), "{mode} encryption");
}

#[test]
fn v0_file_checkpoint_decrypts_in_both_modes() {
    // 10 bytes < 16: CBC (tail only) and CTR give the same result.
    let iv = mtr_iv("000000000000fac6", "fa");
    for mode in [Mode::Cbc, Mode::Ctr] {
        check(
            mode,
            LOG_KEY_A,
            iv,
            "493ce0c001e60db92613",
            "0000 000000000000fac6",
        );
    }
}

#[test]
fn v1_tail_only_two_records() {
    let iv = mtr_iv("000000000000e0d5", "35");
    let mask = cipher::ecb_encrypt_block(&h(LOG_KEY_A), &iv).unwrap();
    assert_eq!(mask, h16("fa78280b886a51c7654fe7ef4e2005bc"));
    check(
        Mode::Cbc,
        LOG_KEY_A,
        iv,
        "fc7ba812a8 6776c9654fe6d14f30",
        "0603801920 0d270e0000013e0110",
    );
}

#[test]
fn v2_cbc_blocks_and_tail() {
    let iv = mtr_iv("000000000000d2da", "2013");
    let ct = "dfb6c14cabfb852a3f8f512664984870 d7a3f1ce4c576d371db6bbbfb1c4b232 97";
    let pt = "0603 06 00100000070080000001000000 00001d89000001390110626565206f6e 65";
    check(Mode::Cbc, LOG_KEY_A, iv, ct, pt);
    // The tail is XORed with AES(original IV), whose first byte is f2.
    assert_eq!(
        cipher::ecb_encrypt_block(&h(LOG_KEY_A), &iv).unwrap()[0],
        0xf2
    );
    // The same bytes as CTR: garbage starting 2dc12817 (spec §6.7).
    let mut data = h(ct);
    cipher::decrypt_nopad(Mode::Ctr, &h(LOG_KEY_A), &iv, &mut data).unwrap();
    assert_eq!(data[..4], h("2dc12817")[..]);
}

#[test]
fn v3_ctr_two_blocks() {
    let key_b = h("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    let iv = mtr_iv("000000000000cf76", "2011");
    let log_key =
        cipher::ecb_encrypt_block(&key_b, &h16("199a66f6d060ac895f589304ad1176ff")).unwrap();
    let ct = "3695078c258e987c554b4185222e7ab2 49fdccd7fc44e0a5937d290dedda91";
    let pt = "0603 06 0010000005008000000100000000001b88000001380110 726f772d31";
    check(Mode::Ctr, &hex(&log_key), iv, ct, pt);
    // The key stream of the spec: AES(IV), AES(IV + 1).
    let mut ks = [0u8; 32];
    cipher::encrypt_nopad(Mode::Ctr, &log_key, &iv, &mut ks).unwrap();
    assert_eq!(ks[..16], h("3096018c358e987955cb4185232e7ab2")[..]);
    assert_eq!(ks[16..], h("49fdd75ffc44e19d926d5b629af7a001")[..]);
    // Decrypted as CBC it is not the plaintext.
    let mut data = h(ct);
    cipher::decrypt_nopad(Mode::Cbc, &log_key, &iv, &mut data).unwrap();
    assert_ne!(data, h(pt));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn ctr_counter_is_128_bit_big_endian() {
    // IV 00..00 ff..ff (low 64 bits all ones): the next counter carries into the high half.
    let key = [9u8; 24];
    let iv = h16("0000000000000000ffffffffffffffff");
    let mut ks = [0u8; 48];
    cipher::encrypt_nopad(Mode::Ctr, &key, &iv, &mut ks).unwrap();
    assert_eq!(ks[..16], cipher::ecb_encrypt_block(&key, &iv).unwrap());
    let next = h16("00000000000000010000000000000000");
    assert_eq!(ks[16..32], cipher::ecb_encrypt_block(&key, &next).unwrap());
    // All ones wraps to zero.
    let mut ks = [0u8; 32];
    cipher::encrypt_nopad(Mode::Ctr, &key, &[0xff; 16], &mut ks).unwrap();
    assert_eq!(ks[16..], cipher::ecb_encrypt_block(&key, &[0; 16]).unwrap());
}

#[test]
fn cbc_whole_blocks_chain_and_tail_uses_the_original_iv() {
    // Built from ECB alone: C1 = E(P1 ^ IV), C2 = E(P2 ^ C1), tail = P3 ^ E(IV).
    let key = [3u8; 32];
    let iv = [0x5a; 16];
    let plain: Vec<u8> = (0u8..37).collect();
    let xor = |a: &[u8], b: &[u8]| -> [u8; 16] { std::array::from_fn(|i| a[i] ^ b[i]) };
    let c1 = cipher::ecb_encrypt_block(&key, &xor(&plain[..16], &iv)).unwrap();
    let c2 = cipher::ecb_encrypt_block(&key, &xor(&plain[16..32], &c1)).unwrap();
    let mask = cipher::ecb_encrypt_block(&key, &iv).unwrap();
    let mut expected = [c1, c2].concat();
    expected.extend(plain[32..].iter().zip(mask).map(|(p, m)| p ^ m));
    let mut data = plain.clone();
    cipher::encrypt_nopad(Mode::Cbc, &key, &iv, &mut data).unwrap();
    assert_eq!(data, expected);
    cipher::decrypt_nopad(Mode::Cbc, &key, &iv, &mut data).unwrap();
    assert_eq!(data, plain);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn nopad_round_trips(keylen in prop::sample::select(vec![16usize, 24, 32]), seed in any::<u8>(),
                         iv in any::<[u8; 16]>(), plain in prop::collection::vec(any::<u8>(), 0..100),
                         ctr in any::<bool>()) {
        let key: Vec<u8> = (0..keylen as u8).map(|i| i.wrapping_mul(seed)).collect();
        let mode = if ctr { Mode::Ctr } else { Mode::Cbc };
        let mut data = plain.clone();
        cipher::encrypt_nopad(mode, &key, &iv, &mut data).unwrap();
        prop_assert_eq!(data.len(), plain.len());
        if plain.len() < 16 {
            // Shorter than a block: CBC's tail rule and CTR agree (spec §5).
            let mut other = plain.clone();
            let other_mode = if ctr { Mode::Cbc } else { Mode::Ctr };
            cipher::encrypt_nopad(other_mode, &key, &iv, &mut other).unwrap();
            prop_assert_eq!(&other, &data);
        }
        cipher::decrypt_nopad(mode, &key, &iv, &mut data).unwrap();
        prop_assert_eq!(data, plain);
    }

    #[test]
    fn key_file_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300),
                                   salted in any::<bool>(), pw in prop::collection::vec(any::<u8>(), 0..8)) {
        let mut input = if salted { b"Salted__".to_vec() } else { Vec::new() };
        input.extend(bytes);
        let key = FileKey::literal(&pw);
        let _ = KeyFile::parse(&input, Some(&key));
        let _ = KeyFile::parse(&input, None);
    }

    #[test]
    fn key_lines_never_panic(lines in prop::collection::vec("[ \t#0-9;a-fA-Fxz\r]{0,80}", 0..6)) {
        let text = lines.join("\n");
        if let Ok(keys) = KeyFile::parse(text.as_bytes(), None) {
            prop_assert!(keys.get(1).is_some());
        }
    }
}

// ---- Key files (§3) ----

const SERVER_A_KEYS: &str = "# test keys for the encryption spec (throwaway)\n\
1;0123456789ABCDEF0123456789abcdef00112233445566778899AABBCCDDEEFF\n  \
  # indented comment, then a 128-bit key\n\
2;F5502320F8429037B8DAEF761B189D12\n\
\n\
5;770A8A65DA156D24EE2A093277530142770A8A65DA156D24\n";

#[test]
fn plain_key_file_of_server_a() {
    let keys = KeyFile::parse(SERVER_A_KEYS.as_bytes(), None).unwrap();
    assert_eq!(keys.ids().collect::<Vec<_>>(), [1, 2, 5]);
    assert_eq!(keys.get(1).unwrap().as_bytes(), h(KEY1_A));
    assert_eq!(
        keys.get(2).unwrap().as_bytes(),
        h("F5502320F8429037B8DAEF761B189D12")
    );
    assert_eq!(keys.get(5).unwrap().as_bytes().len(), 24);
    assert!(keys.get(3).is_none());
    assert!(!keys.is_encrypted());
    // Debug shows no key bytes.
    let debug = format!("{keys:?}");
    assert!(
        !debug.to_lowercase().contains("f5") && debug.contains("len: 16"),
        "{debug}"
    );
    // An empty FileKey means "no password", like None.
    let empty = FileKey::parse("", Path::new("/")).unwrap();
    assert!(empty.is_empty());
    assert_eq!(
        KeyFile::parse(SERVER_A_KEYS.as_bytes(), Some(&empty)).unwrap(),
        keys
    );
}

#[test]
fn key_file_details_follow_the_server() {
    // CRLF, trailing text after the hex digits, a later duplicate replacing the earlier one,
    // a vertical tab as leading blank, text after a NUL ignored.
    let text = b"1;00112233445566778899aabbccddeeff\r\n\x0b 1;ffeeddccbbaa99887766554433221100 trailing\n\0garbage";
    let keys = KeyFile::parse(text, None).unwrap();
    assert_eq!(
        keys.get(1).unwrap().as_bytes(),
        h("ffeeddccbbaa99887766554433221100")
    );
    assert_eq!(keys.ids().count(), 1);
    // The largest id.
    let keys = KeyFile::parse(
        b"1;00112233445566778899aabbccddeeff\n4294967295;00112233445566778899aabbccddeeff",
        None,
    )
    .unwrap();
    assert!(keys.get(u32::MAX).is_some());
}

fn bad_line(text: &str) -> (usize, usize, Option<u32>, LineProblem) {
    match KeyFile::parse(text.as_bytes(), None).unwrap_err() {
        KeyError::BadLine {
            file: None,
            line,
            column,
            key_id,
            problem,
            ..
        } => (line, column, key_id, problem),
        e => panic!("{text:?}: {e:?}"),
    }
}

const K16: &str = "00112233445566778899aabbccddeeff";

#[test]
fn bad_lines_name_line_column_key_id_and_problem() {
    let ok = format!("# c\n1;{K16}\n");
    assert_eq!(
        bad_line(&format!("{ok}  x;{K16}")),
        (3, 3, None, LineProblem::NotAKeyId)
    );
    assert_eq!(
        bad_line(&format!("{ok}0;{K16}")),
        (3, 2, None, LineProblem::KeyIdOutOfRange)
    );
    assert_eq!(
        bad_line(&format!("{ok}4294967296;{K16}")),
        (3, 10, None, LineProblem::KeyIdOutOfRange)
    );
    assert_eq!(
        bad_line(&format!("{ok}7:{K16}")),
        (3, 2, Some(7), LineProblem::MissingSemicolon)
    );
    assert_eq!(
        bad_line(&format!("{ok}7 ;{K16}")),
        (3, 2, Some(7), LineProblem::MissingSemicolon)
    );
    // Bad hex: a non-hex digit inside the key leaves an odd digit count or a short key.
    assert_eq!(
        bad_line(&format!("{ok}8;0011223344556677889G")),
        (3, 21, Some(8), LineProblem::OddHexDigits)
    );
    assert_eq!(
        bad_line(&format!("{ok}8;{K16}f")),
        (3, 35, Some(8), LineProblem::OddHexDigits)
    );
    assert_eq!(
        bad_line(&format!("{ok}8;zz")),
        (3, 3, Some(8), LineProblem::BadKeyLength { bytes: 0 })
    );
    // Bad key lengths.
    assert_eq!(
        bad_line(&format!("{ok}9;{}", &K16[..30])),
        (3, 33, Some(9), LineProblem::BadKeyLength { bytes: 15 })
    );
    assert_eq!(
        bad_line(&format!("{ok}9;{K16}0011")),
        (3, 39, Some(9), LineProblem::BadKeyLength { bytes: 18 })
    );
    assert_eq!(
        bad_line(&format!("{ok}9;{K16}{K16}00")),
        (3, 67, Some(9), LineProblem::KeyTooLong)
    );
    let msg = KeyFile::parse(format!("{ok}9;{K16}0011").as_bytes(), None)
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "key file: line 3, column 39, key id 9: a key of 18 bytes: keys are 16, 24 or 32 bytes long");
}

#[test]
fn key_1_is_required() {
    for text in [
        format!("2;{K16}\n"),
        String::new(),
        "# only a comment\n".to_owned(),
    ] {
        assert!(
            matches!(
                KeyFile::parse(text.as_bytes(), None),
                Err(KeyError::MissingKey1 { file: None })
            ),
            "{text:?}"
        );
    }
}

// ---- Encrypted key files (§4) ----

/// The 64-byte encrypted key file of spec §4 (password `secret`).
fn spec_encrypted_file() -> Vec<u8> {
    h(
        "53616c7465645f5f 0102030405060708 7dce47cacb8f236389b4f5812921fa43 \
       97fc41aa21c61577e8f1b255e83ad8c1 479694c67efedf58984d6bb6599d1194",
    )
}

#[test]
fn encrypted_key_file_vector() {
    let keys = KeyFile::parse(&spec_encrypted_file(), Some(&FileKey::literal(b"secret"))).unwrap();
    assert!(keys.is_encrypted());
    assert_eq!(keys.ids().collect::<Vec<_>>(), [1]);
    assert_eq!(
        keys.get(1).unwrap().as_bytes(),
        h("F5502320F8429037B8DAEF761B189D12")
    );
}

#[test]
fn encrypted_key_file_errors() {
    let file = spec_encrypted_file();
    for pw in [&b"Secret"[..], b"secret2", b""] {
        let err = KeyFile::parse(&file, Some(&FileKey::literal(pw))).unwrap_err();
        assert!(
            matches!(err, KeyError::WrongFileKey { file: None }),
            "{pw:?}: {err:?}"
        );
    }
    assert!(matches!(
        KeyFile::parse(&file, None),
        Err(KeyError::WrongFileKey { .. })
    ));
    // A plain file with a password.
    let err =
        KeyFile::parse(SERVER_A_KEYS.as_bytes(), Some(&FileKey::literal(b"secret"))).unwrap_err();
    assert!(
        matches!(err, KeyError::NotEncrypted { file: None }),
        "{err:?}"
    );
    // Truncated: no salt, a partial block, no ciphertext.
    for len in [9, 16, 40, 63] {
        let err = KeyFile::parse(&file[..len], Some(&FileKey::literal(b"secret"))).unwrap_err();
        assert!(
            matches!(err, KeyError::Truncated { file: None, len: l } if l == len),
            "{len}: {err:?}"
        );
    }
    // Exactly "Salted__" (8 bytes) is not encrypted: a plain file whose first line is bad.
    assert!(matches!(
        KeyFile::parse(b"Salted__", None),
        Err(KeyError::BadLine { line: 1, .. })
    ));
}

// ---- File keys and files on disk ----

#[test]
fn file_keys_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("keys.enc");
    std::fs::write(&keyfile, spec_encrypted_file()).unwrap();
    // Relative FILE: path from the base directory; trailing CR/LF stripped.
    std::fs::write(dir.path().join("pw"), b"secret\r\n\n").unwrap();
    let fk = FileKey::parse("FILE:pw", dir.path()).unwrap();
    assert_eq!(fk.file(), Some(dir.path().join("pw").as_path()));
    assert!(!format!("{fk:?}").contains("secret"));
    assert!(KeyFile::open(&keyfile, Some(&fk)).unwrap().get(1).is_some());
    // Absolute FILE: path.
    let abs = format!("FILE:{}", dir.path().join("pw").display());
    assert_eq!(FileKey::parse(&abs, Path::new("/nonexistent")).unwrap(), fk);
    // 256 hex digits and a newline (`openssl rand -hex 128`): 257 bytes, accepted.
    std::fs::write(dir.path().join("k256"), format!("{}\n", "ab".repeat(128))).unwrap();
    assert!(FileKey::parse("FILE:k256", dir.path()).is_ok());
    // 257 bytes of key: too long.
    std::fs::write(dir.path().join("k257"), "a".repeat(257)).unwrap();
    let err = FileKey::parse("FILE:k257", dir.path()).unwrap_err();
    assert!(
        matches!(&err, KeyError::FileKeyTooLong { file } if file.ends_with("k257")),
        "{err:?}"
    );
    assert!(err.to_string().contains("k257"), "{err}");
    // Empty, missing.
    std::fs::write(dir.path().join("empty"), "").unwrap();
    assert!(matches!(
        FileKey::parse("FILE:empty", dir.path()),
        Err(KeyError::EmptyFileKey { .. })
    ));
    let err = FileKey::parse("FILE:missing", dir.path()).unwrap_err();
    assert!(
        matches!(&err, KeyError::Io { file, .. } if file.ends_with("missing")),
        "{err:?}"
    );
    // `file:` is not the prefix (case sensitive): a literal password.
    assert_eq!(FileKey::parse("file:pw", dir.path()).unwrap().file(), None);
    // Errors of KeyFile::open name the key file.
    let err = KeyFile::open(&keyfile, Some(&FileKey::literal(b"wrong"))).unwrap_err();
    assert!(
        matches!(&err, KeyError::WrongFileKey { file: Some(f) } if *f == keyfile),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&keyfile.display().to_string()),
        "{err}"
    );
    let err = KeyFile::open(&dir.path().join("nokeys"), None).unwrap_err();
    assert!(
        matches!(&err, KeyError::Io { file, .. } if file.ends_with("nokeys")),
        "{err:?}"
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn key_files_encrypted_by_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("keys.txt"), SERVER_A_KEYS).unwrap();
    // The documented way: a random hex file key (257 bytes with its newline), `-md sha1`.
    openssl(d, &["rand", "-hex", "-out", "K", "128"]);
    assert_eq!(std::fs::metadata(d.join("K")).unwrap().len(), 257);
    openssl(
        d,
        &[
            "enc",
            "-aes-256-cbc",
            "-md",
            "sha1",
            "-pass",
            "file:K",
            "-in",
            "keys.txt",
            "-out",
            "keys.enc",
        ],
    );
    let fk = FileKey::parse("FILE:K", d).unwrap();
    let keys = KeyFile::open(&d.join("keys.enc"), Some(&fk)).unwrap();
    assert!(keys.is_encrypted());
    assert_eq!(keys.ids().collect::<Vec<_>>(), [1, 2, 5]);
    assert_eq!(keys.get(1).unwrap().as_bytes(), h(KEY1_A));
    // A literal password.
    openssl(
        d,
        &[
            "enc",
            "-aes-256-cbc",
            "-md",
            "sha1",
            "-pass",
            "pass:s3cr3t",
            "-in",
            "keys.txt",
            "-out",
            "lit.enc",
        ],
    );
    let keys = KeyFile::open(
        &d.join("lit.enc"),
        Some(&FileKey::parse("s3cr3t", d).unwrap()),
    )
    .unwrap();
    assert_eq!(
        keys.get(5).unwrap().as_bytes(),
        h("770A8A65DA156D24EE2A093277530142770A8A65DA156D24")
    );
    // OpenSSL 3's default digest (SHA-256) is not what the server reads: rejected (a wrong
    // padding, or, once in 256 salts, a valid padding over garbage text).
    openssl(
        d,
        &[
            "enc",
            "-aes-256-cbc",
            "-pass",
            "pass:s3cr3t",
            "-in",
            "keys.txt",
            "-out",
            "sha256.enc",
        ],
    );
    let err = KeyFile::open(&d.join("sha256.enc"), Some(&FileKey::literal(b"s3cr3t"))).unwrap_err();
    assert!(
        matches!(
            err,
            KeyError::WrongFileKey { .. } | KeyError::BadLine { .. }
        ),
        "{err:?}"
    );
}
