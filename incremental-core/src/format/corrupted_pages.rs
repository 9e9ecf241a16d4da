//! `innodb_corrupted_pages`: the pages a backup found corrupt and recorded instead of failing
//! (mariabackup's `--log-innodb-page-corruption`). Per tablespace, a line `<name> <space id>`
//! (the name without `.ibd`) and then a line of its page numbers separated by spaces.
//!
//! ```
//! use incremental_core::format::corrupted_pages::CorruptedPages;
//! let mut c = CorruptedPages::default();
//! c.push("db/t.ibd", 5, &[3, 7]);
//! assert_eq!(c.to_text(), "db/t 5\n3 7\n");
//! ```

/// The file's name in a backup directory.
pub const FILE_NAME: &str = "innodb_corrupted_pages";

/// The corrupt pages of a backup, by tablespace, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorruptedPages {
    spaces: Vec<(String, u32, Vec<u64>)>,
}

impl CorruptedPages {
    /// Records the corrupt `pages` of the tablespace in file `rel` (relative to the datadir),
    /// whose space id is `space_id`. A tablespace without corrupt pages is left out.
    pub fn push(&mut self, rel: &str, space_id: u32, pages: &[u64]) {
        if pages.is_empty() {
            return;
        }
        let name = rel.strip_suffix(".ibd").unwrap_or(rel).to_string();
        self.spaces.push((name, space_id, pages.to_vec()));
    }

    /// True when no page was recorded (the file is not written then).
    pub fn is_empty(&self) -> bool {
        self.spaces.is_empty()
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (name, space_id, pages) in &self.spaces {
            s.push_str(&format!("{name} {space_id}\n"));
            let pages: Vec<String> = pages.iter().map(u64::to_string).collect();
            s.push_str(&pages.join(" "));
            s.push('\n');
        }
        s
    }
}
