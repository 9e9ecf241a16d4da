//! Extended validation (`mariabackup --extended-validation`): an encrypted page of the classic
//! layout carries two checksums, one of the stored (encrypted) page at 30, which every backup
//! checks, and the page's own, computed before encryption, which only the decrypted page
//! shows. With the server's keys the backup decrypts each encrypted page in memory (the copy
//! stays encrypted) and checks that one too, as mariabackup does:
//!
//! - pages of full_crc32 tablespaces have one checksum, over the stored page: nothing more to
//!   check (mariabackup checks nothing more either);
//! - page 0 and pages whose key version (at 26) is 0 are not encrypted;
//! - page-compressed encrypted pages (type 37401) would also need decompressing: left to the
//!   ordinary check;
//! - a page whose key the plugin does not have is corrupt (the server could not read it).

use innodb_page::checksum::{validate, ChecksumContext, Verdict};
use innodb_page::crypto::page::{classic_key_version, decrypt_classic, page_key};
use innodb_page::Page;

use super::contents::TablespacePlan;
use crate::encryption::KeyRing;

/// The page type of a page-compressed encrypted page.
const PAGE_COMPRESSED_ENCRYPTED: u16 = 37401;

/// What is wrong with encrypted page `bytes` of `ts` once decrypted with `keys` (`None`: sound,
/// or nothing to check).
pub(crate) fn encrypted_page_problem(
    ts: &TablespacePlan,
    keys: &KeyRing,
    bytes: &[u8],
) -> Option<String> {
    if ts.checksum.full_crc32 {
        return None;
    }
    let crypt = ts.crypt.as_ref().filter(|c| c.is_encrypted())?;
    let page = Page::new(bytes).ok()?;
    if page.page_no() == 0 || page.raw_page_type() == PAGE_COMPRESSED_ENCRYPTED {
        return None;
    }
    let version = classic_key_version(bytes)?;
    let id = crypt.key_id;
    let key = match keys.key(id, version) {
        Ok(k) => k,
        Err(e) => return Some(format!("encrypted with key {id} version {version}: {e}")),
    };
    let pk = match page_key(key.as_bytes(), &crypt.iv) {
        Ok(k) => k,
        Err(e) => return Some(format!("key {id} version {version}: {e}")),
    };
    let mut plain = bytes.to_vec();
    if let Err(e) = decrypt_classic(&mut plain, ts.space_id, &pk, keys.mode()) {
        return Some(format!("cannot be decrypted: {e}"));
    }
    let ctx = ChecksumContext {
        encrypted: false,
        ..ts.checksum
    };
    match validate(Page::new(&plain).ok()?, &ctx) {
        Verdict::Corrupt(c) => Some(format!(
            "decrypted with key {id} version {version} ({}), its checksum does not match: {c}",
            keys.mode()
        )),
        _ => None,
    }
}
