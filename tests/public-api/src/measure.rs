//! Structural figures of source trees: lines of code and the longest functions.

use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::Visit;

use crate::{err, Error};

/// The `.rs` files under `dir` (recursively, `target` directories left out), sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "target" && n != ".git") {
                    todo.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Lines of code of one file: lines holding a token that is not a comment (doc comments
/// included); `test` counts those inside `#[cfg(test)]` items apart.
#[derive(Debug, Default, Clone, Copy)]
pub struct Loc {
    pub code: usize,
    pub test: usize,
}

impl std::ops::AddAssign for Loc {
    fn add_assign(&mut self, o: Loc) {
        self.code += o.code;
        self.test += o.test;
    }
}

fn parse(path: &Path) -> Result<(String, syn::File), Error> {
    let text =
        std::fs::read_to_string(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let file = syn::parse_file(&text).map_err(|e| {
        let at = e.span().start();
        err(format!("{}:{}: {e}", path.display(), at.line))
    })?;
    Ok((text, file))
}

pub fn loc_of_file(path: &Path) -> Result<Loc, Error> {
    let (text, file) = parse(path)?;
    let lines = text.lines().count() + 1;
    let mut code = vec![false; lines + 1];
    let ts: TokenStream = text
        .parse()
        .map_err(|e| err(format!("{}: {e:?}", path.display())))?;
    mark(ts, &mut code);
    let mut test = vec![false; lines + 1];
    for item in &file.items {
        if crate::is_cfg_test(crate::item_attrs(item)) {
            let s = item.span();
            for t in &mut test[s.start().line..=s.end().line.min(lines)] {
                *t = true;
            }
        }
    }
    let mut loc = Loc::default();
    for (&is_code, &in_test) in code.iter().zip(&test) {
        if is_code && in_test {
            loc.test += 1;
        } else if is_code {
            loc.code += 1;
        }
    }
    Ok(loc)
}

/// Marks the lines that tokens other than doc comments touch.
fn mark(ts: TokenStream, code: &mut [bool]) {
    let toks: Vec<TokenTree> = ts.into_iter().collect();
    let mut i = 0;
    while i < toks.len() {
        // `#[doc = ".."]` / `#![doc = ".."]`: a doc comment
        if let TokenTree::Punct(p) = &toks[i]
            && p.as_char() == '#'
        {
            let mut j = i + 1;
            if matches!(toks.get(j), Some(TokenTree::Punct(b)) if b.as_char() == '!') {
                j += 1;
            }
            if let Some(TokenTree::Group(g)) = toks.get(j)
                && g.delimiter() == Delimiter::Bracket
                && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(id)) if id == "doc")
            {
                i = j + 1;
                continue;
            }
        }
        match &toks[i] {
            TokenTree::Group(g) => {
                let open = g.span_open().start().line;
                let close = g.span_close().end().line;
                for l in [open, close] {
                    if let Some(c) = code.get_mut(l) {
                        *c = true;
                    }
                }
                mark(g.stream(), code);
            }
            t => {
                let s = t.span();
                for l in s.start().line..=s.end().line {
                    if let Some(c) = code.get_mut(l) {
                        *c = true;
                    }
                }
            }
        }
        i += 1;
    }
}

/// A function and its length in lines (from `fn` to the closing brace).
#[derive(Debug, Clone)]
pub struct FnLen {
    pub lines: usize,
    pub file: PathBuf,
    pub line: usize,
    pub name: String,
}

/// Every function with a body under `dirs`' `.rs` files, outside `#[cfg(test)]` items and
/// `#[test]` functions, longest first.
pub fn longest_fns(dirs: &[PathBuf]) -> Result<Vec<FnLen>, Error> {
    let mut all = Vec::new();
    for dir in dirs {
        let files = if dir.is_file() {
            vec![dir.clone()]
        } else {
            rust_files(dir)
        };
        for f in files {
            let (_, file) = parse(&f)?;
            let mut v = FnVisitor {
                file: &f,
                owner: Vec::new(),
                out: &mut all,
            };
            v.visit_file(&file);
        }
    }
    all.sort_by(|a, b| {
        b.lines
            .cmp(&a.lines)
            .then_with(|| (&a.file, a.line).cmp(&(&b.file, b.line)))
    });
    Ok(all)
}

struct FnVisitor<'a> {
    file: &'a Path,
    /// Impl types, traits and modules around the current item.
    owner: Vec<String>,
    out: &'a mut Vec<FnLen>,
}

fn is_test_fn(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("test") || a.path().segments.last().is_some_and(|s| s.ident == "test")
    })
}

impl FnVisitor<'_> {
    fn record(&mut self, sig: &syn::Signature, block: &syn::Block) {
        let start = sig.fn_token.span.start().line;
        let end = block.brace_token.span.close().end().line;
        let mut name = self.owner.clone();
        name.push(sig.ident.to_string());
        self.out.push(FnLen {
            lines: end + 1 - start,
            file: self.file.to_path_buf(),
            line: start,
            name: name.join("::"),
        });
    }
}

impl<'ast> Visit<'ast> for FnVisitor<'_> {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        if crate::is_cfg_test(crate::item_attrs(i)) {
            return;
        }
        syn::visit::visit_item(self, i);
    }

    fn visit_item_mod(&mut self, i: &'ast syn::ItemMod) {
        self.owner.push(i.ident.to_string());
        syn::visit::visit_item_mod(self, i);
        self.owner.pop();
    }

    fn visit_item_fn(&mut self, i: &'ast syn::ItemFn) {
        if is_test_fn(&i.attrs) {
            return;
        }
        self.record(&i.sig, &i.block);
        self.owner.push(i.sig.ident.to_string());
        syn::visit::visit_item_fn(self, i);
        self.owner.pop();
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if crate::is_cfg_test(&i.attrs) {
            return;
        }
        let ty = match crate::type_def_path(&i.self_ty).and_then(|p| p.segments.last()) {
            Some(seg) => seg.ident.to_string(),
            None => crate::render::node(&*i.self_ty),
        };
        self.owner.push(ty);
        syn::visit::visit_item_impl(self, i);
        self.owner.pop();
    }

    fn visit_item_trait(&mut self, i: &'ast syn::ItemTrait) {
        self.owner.push(i.ident.to_string());
        syn::visit::visit_item_trait(self, i);
        self.owner.pop();
    }

    fn visit_impl_item_fn(&mut self, i: &'ast syn::ImplItemFn) {
        if crate::is_cfg_test(&i.attrs) {
            return;
        }
        self.record(&i.sig, &i.block);
        self.owner.push(i.sig.ident.to_string());
        syn::visit::visit_impl_item_fn(self, i);
        self.owner.pop();
    }

    fn visit_trait_item_fn(&mut self, i: &'ast syn::TraitItemFn) {
        if let Some(block) = &i.default {
            self.record(&i.sig, block);
        }
        syn::visit::visit_trait_item_fn(self, i);
    }
}
