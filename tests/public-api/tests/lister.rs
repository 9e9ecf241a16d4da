//! The lister on a small crate written to a temporary directory: what it lists, what it
//! leaves out, and the check / bless cycle the library crates' `tests/public_api.rs` use.

use std::fs;
use std::path::Path;

const FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        "[package]\nname = \"fixture\"\nversion = \"0.1.0\"\n",
    ),
    (
        "src/lib.rs",
        r#"//! A fixture.
pub mod shapes;
mod hidden;
mod inner;
#[cfg(feature = "extra")]
pub mod extra;

pub use inner::Reexported;
pub use inner::helpers::*;
pub use std::collections::HashMap as Map;

/// Documented.
pub fn top(a: &[u8], mut n: u32) -> Option<u32> {
    n += a.len() as u32;
    Some(n)
}
pub(crate) fn crate_only() {}
fn private() {}

#[cfg(test)]
mod tests {
    pub fn in_tests() {}
}
"#,
    ),
    (
        "src/shapes.rs",
        r#"#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Shape {
    Circle { radius: f64 },
    Square(f64),
    Empty,
}

pub enum Open {
    A = 1,
}

pub struct Point {
    pub x: i32,
    pub y: i32,
}

pub struct Guarded {
    pub visible: u8,
    hidden_field: u8,
}

impl Point {
    pub fn new(x: i32, y: i32) -> Self {
        Point { x, y }
    }
    fn private_helper(&self) {}
    pub(crate) fn crate_helper() {}
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{}", self.x, self.y)
    }
}

pub trait Area {
    fn area(&self) -> f64;
    fn twice(&self) -> f64 {
        2.0 * self.area()
    }
}

impl Area for Shape {
    fn area(&self) -> f64 {
        0.0
    }
}

trait Sealed {}
impl Sealed for Point {}

pub mod nested {
    pub const LIMIT: usize = 4;
    pub(super) fn sup() {}
    pub(in crate::shapes) fn scoped() {}
}
"#,
    ),
    (
        "src/hidden.rs",
        "pub fn not_listed() {}\npub struct AlsoNot;\n",
    ),
    (
        "src/inner.rs",
        r#"pub struct Reexported<'a> {
    pub data: &'a [u8],
}

impl<'a> Reexported<'a> {
    pub fn len(&self) -> usize {
        self.data.len()
    }
}

pub mod helpers {
    pub fn helper() -> bool {
        true
    }
}

pub fn not_reexported() {}
"#,
    ),
    ("src/extra.rs", "pub fn gated() {}\n"),
];

const EXPECTED: &str = r#"pub use fixture::{inner::helpers::*}
pub use fixture::{std::collections::HashMap as Map}
pub struct fixture::Reexported<'a> { .. }
pub use fixture::{inner::Reexported}
pub fixture::Reexported::data: &'a [u8]
impl<'a> fixture::Reexported<'a>
pub fn fixture::Reexported::len(&self) -> usize
#[cfg(feature = "extra")] pub mod fixture::extra
#[cfg(feature = "extra")] pub fn fixture::extra::gated()
pub fn fixture::helper() -> bool
pub mod fixture::shapes
pub trait fixture::shapes::Area
pub fn fixture::shapes::Area::area(&self) -> f64
pub fn fixture::shapes::Area::twice(&self) -> f64 { .. }
pub struct fixture::shapes::Guarded { .. /* private fields */ }
pub fixture::shapes::Guarded::visible: u8
pub enum fixture::shapes::Open
pub fixture::shapes::Open::A = 1
pub struct fixture::shapes::Point { .. }
pub fixture::shapes::Point::x: i32
pub fixture::shapes::Point::y: i32
impl std::fmt::Display for fixture::shapes::Point
pub fn fixture::shapes::Point::new(x: i32, y: i32) -> Self
#[derive(Debug, Clone)] #[non_exhaustive] pub enum fixture::shapes::Shape
pub fixture::shapes::Shape::Circle { .. }
pub fixture::shapes::Shape::Circle::radius: f64
pub fixture::shapes::Shape::Empty
pub fixture::shapes::Shape::Square(..)
pub fixture::shapes::Shape::Square::0: f64
impl fixture::shapes::Area for fixture::shapes::Shape
pub mod fixture::shapes::nested
pub const fixture::shapes::nested::LIMIT: usize = 4
pub fn fixture::top(a: &[u8], n: u32) -> Option<u32>
"#;

fn write_fixture(dir: &Path) {
    for (path, text) in FILES {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

fn body(listing: &str) -> String {
    listing
        .lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn lists_public_items_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let listing = xb_public_api::listing(dir.path()).unwrap();
    let got = body(&listing);
    assert_eq!(
        got,
        EXPECTED,
        "\n{}",
        xb_public_api::diff(EXPECTED, &got, 80)
    );
    for absent in [
        "hidden_field",
        "fixture::hidden",
        "fixture::inner",
        "not_listed",
        "AlsoNot",
        "crate_only",
        "fixture::private",
        "sup()",
        "scoped",
        "in_tests",
        "not_reexported",
        "private_helper",
        "crate_helper",
        "Sealed",
    ] {
        assert!(!got.contains(absent), "{absent} listed:\n{got}");
    }
}

#[test]
fn stats_count_distinct_definitions() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let items = xb_public_api::list_crate(dir.path()).unwrap();
    let s = xb_public_api::stats(&items);
    assert_eq!((s.non_exhaustive_enums, s.enums), (1, 2));
    assert_eq!((s.non_exhaustive_structs, s.structs), (0, 3));
    assert_eq!(s.by_kind[&xb_public_api::Kind::StructField], 4);
    assert_eq!(s.unresolved_uses.len(), 1);
    // mod 3 (shapes, nested, extra), fn 3 (top, helper, gated), struct 3, enum 2, trait 1 and
    // its 2 items, const 1, method 2 (Point::new, Reexported::len)
    assert_eq!(s.items, 17, "{s}");
}

#[test]
fn check_fails_with_a_diff_until_blessed() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let msg = xb_public_api::check_listing(dir.path(), false).unwrap_err();
    assert!(
        msg.contains("XB_BLESS=1 cargo test -p fixture --test public_api"),
        "{msg}"
    );
    assert!(
        msg.contains("+ pub fn fixture::top(a: &[u8], n: u32) -> Option<u32>"),
        "{msg}"
    );

    xb_public_api::check_listing(dir.path(), true).unwrap();
    xb_public_api::check_listing(dir.path(), false).unwrap();

    // an API change: one fn more, one field made private
    let lib = dir.path().join("src/lib.rs");
    let text = fs::read_to_string(&lib).unwrap() + "pub fn added(x: u8) {}\n";
    fs::write(&lib, text).unwrap();
    let shapes = dir.path().join("src/shapes.rs");
    let text = fs::read_to_string(&shapes)
        .unwrap()
        .replace("pub y: i32", "y: i32");
    fs::write(&shapes, text).unwrap();
    let msg = xb_public_api::check_listing(dir.path(), false).unwrap_err();
    let diff: Vec<&str> = msg
        .lines()
        .filter(|l| l.starts_with("+ ") || l.starts_with("- "))
        .collect();
    assert_eq!(
        diff,
        [
            "+ pub fn fixture::added(x: u8)",
            "- pub struct fixture::shapes::Point { .. }",
            "+ pub struct fixture::shapes::Point { .. /* private fields */ }",
            "- pub fixture::shapes::Point::y: i32",
        ],
        "{msg}"
    );
}

#[test]
fn diff_is_cut_after_the_limit() {
    let old: String = (0..100).map(|i| format!("a{i}\n")).collect();
    let new: String = (0..100).map(|i| format!("b{i}\n")).collect();
    let d = xb_public_api::diff(&old, &new, 40);
    assert_eq!(d.lines().count(), 41);
    assert!(d.ends_with("… and 160 more differing lines"), "{d}");
}
