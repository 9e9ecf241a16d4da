//! The one place that names a repository's objects.
//!
//! ```text
//! STANZA/lock.json                 held while a backup or an expire runs in the stanza
//! STANZA/ID/attempt.json           written first by a backup
//! STANZA/ID/data/HASH/N-SHA        part N of a file (HASH: of the file's path; SHA: of the part's plain bytes)
//! STANZA/ID/bundle/N               bundle N of small files
//! STANZA/ID/manifest.json          written last: the backup is complete
//! STANZA/ID/verified.json          the result of the last `xb verify --repo` of the backup
//! ```
//!
//! A backup's id is the UTC time it started, `YYYYMMDD-HHMMSS`, and `F` (full) or `I`
//! (incremental): ids sort in the order backups were started.

/// The lock of a stanza.
pub(crate) fn lock(stanza: &str) -> String {
    format!("{stanza}/lock.json")
}

/// The prefix of every object of backup `id`.
pub(crate) fn backup(stanza: &str, id: &str) -> String {
    format!("{stanza}/{id}")
}

/// A backup's attempt record.
pub(crate) fn attempt(stanza: &str, id: &str) -> String {
    format!("{stanza}/{id}/attempt.json")
}

/// A backup's manifest.
pub(crate) fn manifest(stanza: &str, id: &str) -> String {
    format!("{stanza}/{id}/manifest.json")
}

/// The record of the last verification of backup `id`.
pub(crate) fn verified(stanza: &str, id: &str) -> String {
    format!("{stanza}/{id}/verified.json")
}

/// Part `n` of the file `path` of backup `id`, whose plain bytes hash to `sha256` (hex).
pub(crate) fn part(stanza: &str, id: &str, path: &str, n: usize, sha256: &str) -> String {
    let dir = &super::hash::hex(&super::hash::sha256(path.as_bytes()))[..16];
    format!(
        "{stanza}/{id}/data/{dir}/{n}-{}",
        &sha256[..32.min(sha256.len())]
    )
}

/// Bundle `n` of backup `id`.
pub(crate) fn bundle(stanza: &str, id: &str, n: usize) -> String {
    format!("{stanza}/{id}/bundle/{n}")
}

/// The id of a backup started at `unix` seconds (UTC), full or not.
pub(crate) fn new_id(unix: u64, full: bool) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}{}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        if full { 'F' } else { 'I' }
    )
}

/// The id of a new backup started at `unix` seconds, full or not, given the ids the stanza
/// holds: its time is after every one of theirs (a second later than the newest when the
/// clock has not passed it), so that ids sort in the order backups were started even when two
/// start within one second (`…F` sorts before `…I`).
pub(crate) fn next_id<'a>(
    unix: u64,
    full: bool,
    taken: impl IntoIterator<Item = &'a str>,
) -> String {
    let newest = taken
        .into_iter()
        .filter(|id| is_id(id))
        .map(|id| &id[..15])
        .max()
        .map(str::to_string);
    let mut t = unix;
    loop {
        let id = new_id(t, full);
        if newest.as_deref().is_none_or(|n| &id[..15] > n) {
            return id;
        }
        t += 1;
    }
}

/// Whether `s` is a backup id (as [`new_id`] makes, possibly with a `-N` suffix).
pub(crate) fn is_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && matches!(b[15], b'F' | b'I')
        && (b.len() == 16
            || (b[16] == b'-' && b[17..].iter().all(u8::is_ascii_digit) && b.len() > 17))
}

/// Days since 1970-01-01 to a (year, month, day) of the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_utc_start_time() {
        assert_eq!(new_id(0, true), "19700101-000000F");
        // 2026-12-06 19:10:17 UTC
        assert_eq!(new_id(1_796_584_217, false), "20261206-191017I");
        assert!(is_id("20261206-192337I"));
        assert!(is_id("20261206-192337I-2"));
        assert!(!is_id("20261206-192337X"));
        assert!(!is_id("lock.json"));
    }

    #[test]
    fn a_backup_started_in_the_same_second_sorts_after_the_ones_before() {
        let first = new_id(1_796_584_217, false);
        let next = next_id(1_796_584_217, true, [first.as_str()]);
        assert_eq!(next, "20261206-191018F");
        assert!(next > first);
        assert_eq!(
            next_id(1_796_584_300, true, [first.as_str()]),
            new_id(1_796_584_300, true)
        );
        assert_eq!(next_id(0, true, ["lock.json"]), "19700101-000000F");
    }
}
