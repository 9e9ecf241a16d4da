//! The declared MSRV against the dependencies: from `cargo metadata` (JSON), every package the
//! published crates of the workspace build with (normal and build dependencies, as locked, for
//! the platforms the metadata was filtered to) must not declare a newer `rust-version`, and
//! every published crate must declare the MSRV.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// `1.89`, `1.89.0` as (1, 89, 0).
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.trim().split('.').map(|p| p.parse::<u64>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    Some((major, minor, patch))
}

#[derive(Debug, Default)]
pub struct MsrvReport {
    /// The published crates and their `rust-version`.
    pub roots: Vec<(String, Option<String>)>,
    /// Dependencies built for them.
    pub deps: usize,
    /// The highest `rust-version` among them, with its package.
    pub highest: Option<(String, String)>,
    /// Problems: a dependency needs a newer Rust, a published crate declares another MSRV.
    pub problems: Vec<String>,
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub fn check(metadata: &str, msrv: &str) -> Result<MsrvReport, String> {
    let ours = parse_version(msrv).ok_or_else(|| format!("not a version: {msrv}"))?;
    let meta: Value = serde_json::from_str(metadata).map_err(|e| format!("cargo metadata: {e}"))?;
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?
        .iter()
        .filter_map(|p| Some((str_of(p, "id")?, p)))
        .collect();
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .ok_or("cargo metadata: no workspace_members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let nodes: BTreeMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .ok_or("cargo metadata: no resolve (run it without --no-deps)")?
        .iter()
        .filter_map(|n| Some((str_of(n, "id")?, n)))
        .collect();

    let mut report = MsrvReport::default();
    let mut todo = Vec::new();
    for id in &members {
        let p = packages[id];
        // `publish: null` is publishable; `publish = false` is `[]`
        if !p["publish"].is_null() {
            continue;
        }
        let name = str_of(p, "name").unwrap_or(id).to_string();
        let rv = str_of(p, "rust_version").map(str::to_string);
        match rv.as_deref().and_then(parse_version) {
            Some(v) if v == ours => {}
            _ => report.problems.push(format!(
                "{name} declares rust-version {}, not the workspace's {msrv} (rust-version.workspace = true)",
                rv.as_deref().unwrap_or("(none)")
            )),
        }
        report.roots.push((name, rv));
        todo.push(*id);
    }
    let mut seen: BTreeSet<&str> = todo.iter().copied().collect();
    while let Some(id) = todo.pop() {
        let Some(node) = nodes.get(id) else { continue };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let kinds = dep["dep_kinds"].as_array();
            let built = kinds.is_none_or(|ks| {
                ks.iter()
                    .any(|k| matches!(k["kind"].as_str(), None | Some("build")))
            });
            if let Some(pkg) = str_of(dep, "pkg")
                && built
                && seen.insert(pkg)
            {
                todo.push(pkg);
            }
        }
    }
    for id in seen {
        if members.contains(id) {
            continue;
        }
        report.deps += 1;
        let p = packages[id];
        let name = format!(
            "{} {}",
            str_of(p, "name").unwrap_or(id),
            str_of(p, "version").unwrap_or("?")
        );
        let Some(rv) = str_of(p, "rust_version") else {
            continue;
        };
        let Some(v) = parse_version(rv) else { continue };
        if report
            .highest
            .as_ref()
            .is_none_or(|(h, _)| parse_version(h).is_some_and(|h| v > h))
        {
            report.highest = Some((rv.to_string(), name.clone()));
        }
        if v > ours {
            report.problems.push(format!(
                "{name} declares rust-version {rv}, above our {msrv}"
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"{
      "packages": [
        {"id": "a", "name": "a", "version": "0.1.0", "rust_version": "1.88", "publish": null},
        {"id": "t", "name": "t", "version": "0.1.0", "rust_version": null, "publish": []},
        {"id": "d", "name": "d", "version": "1.0.0", "rust_version": "1.89.0", "publish": null},
        {"id": "e", "name": "e", "version": "2.0.0", "rust_version": "1.95", "publish": null},
        {"id": "f", "name": "f", "version": "3.0.0", "rust_version": "1.60", "publish": null}
      ],
      "workspace_members": ["a", "t"],
      "resolve": {"nodes": [
        {"id": "a", "deps": [
          {"pkg": "d", "dep_kinds": [{"kind": null, "target": null}]},
          {"pkg": "e", "dep_kinds": [{"kind": "dev", "target": null}]}
        ]},
        {"id": "d", "deps": [{"pkg": "f", "dep_kinds": [{"kind": "build", "target": null}]}]},
        {"id": "t", "deps": [{"pkg": "e", "dep_kinds": [{"kind": null, "target": null}]}]}
      ]}
    }"#;

    #[test]
    fn dependencies_above_the_msrv_are_found_dev_and_unpublished_ones_skipped() {
        let r = check(META, "1.88").unwrap();
        assert_eq!(r.deps, 2);
        assert_eq!(
            r.highest,
            Some(("1.89.0".to_string(), "d 1.0.0".to_string()))
        );
        assert_eq!(
            r.problems,
            ["d 1.0.0 declares rust-version 1.89.0, above our 1.88"]
        );
        let r = check(META, "1.89").unwrap();
        assert_eq!(
            r.problems,
            ["a declares rust-version 1.88, not the workspace's 1.89 (rust-version.workspace = true)"]
        );
    }
}
