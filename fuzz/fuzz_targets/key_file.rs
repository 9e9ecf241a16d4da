#![no_main]
//! Arbitrary bytes into the `file_key_management` key file parser, plain and encrypted: the
//! first byte chooses the file key's length (taken from the following bytes), the rest is the
//! file. Also the NOPAD ciphers over the same bytes with every key length.
use innodb_page::crypto::cipher::{self, Mode};
use innodb_page::crypto::keys::{FileKey, KeyFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, rest) = data.split_first().unwrap_or((&0, &[]));
    let pw_len = usize::from(*first % 16).min(rest.len());
    let (pw, file) = rest.split_at(pw_len);
    let filekey = FileKey::literal(pw);
    if let Ok(keys) = KeyFile::parse(file, Some(&filekey)) {
        assert!(keys.get(1).is_some());
        for id in keys.ids() {
            let key = keys.get(id).unwrap().as_bytes();
            assert!(matches!(key.len(), 16 | 24 | 32));
            assert!(cipher::ecb_encrypt_block(key, &[0; 16]).is_ok());
        }
    }
    let _ = KeyFile::parse(data, None);
    // The ciphers: key length from the first byte (also invalid ones), data of any length.
    let key_len = usize::from(*first % 40).min(rest.len());
    let (key, body) = rest.split_at(key_len);
    let iv = [*first; 16];
    for mode in [Mode::Cbc, Mode::Ctr] {
        let mut buf = body.to_vec();
        if cipher::encrypt_nopad(mode, key, &iv, &mut buf).is_ok() {
            cipher::decrypt_nopad(mode, key, &iv, &mut buf).unwrap();
            assert_eq!(buf, body);
        }
    }
});
