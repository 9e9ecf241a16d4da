//! A privilege a hot backup's account lacks, as errors and reports name it (the check itself is
//! `hot::grants`).

/// A privilege the account lacks (on `*.*`), found by the check before a hot backup
/// ([`HotOptions::set_privilege_check`](super::options::HotOptions::set_privilege_check)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingPrivilege {
    /// The privilege's name as `GRANT` spells it (`RELOAD`, `SLAVE MONITOR`).
    pub privilege: String,
    /// Privileges that would do instead (`SUPER`), if any.
    pub alternatives: Vec<String>,
    /// What needs it ("the BACKUP STAGE locks").
    pub needed_for: String,
    /// The backup cannot run without it (else a warning: what needs it is skipped or fails
    /// when it runs).
    pub required: bool,
}

impl std::fmt::Display for MissingPrivilege {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "missing required privilege {} on *.*", self.privilege)?;
        if !self.alternatives.is_empty() {
            write!(f, " (or {})", self.alternatives.join(" or "))?;
        }
        write!(f, ", needed for {}", self.needed_for)
    }
}
