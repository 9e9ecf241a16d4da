//! Tokens to one line of text, spaced the way rustfmt writes signatures (`&'a [u8]`,
//! `Option<Vec<u8>>`, `fn(u8) -> bool`, `#[derive(Debug, Clone)]`), trailing commas dropped.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;

/// One syntax node as a single line.
pub fn node<T: ToTokens + ?Sized>(node: &T) -> String {
    tokens(node.to_token_stream())
}

/// A token stream as a single line.
pub fn tokens(ts: TokenStream) -> String {
    let toks: Vec<TokenTree> = ts.into_iter().collect();
    let mut out = String::new();
    write_seq(&toks, None, &mut out);
    out
}

/// The token stream without doc comments (`#[doc = "..."]`, `#![doc = "..."]`), at any depth.
pub fn strip_docs(ts: TokenStream) -> TokenStream {
    let toks: Vec<TokenTree> = ts.into_iter().collect();
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        if let TokenTree::Punct(p) = &toks[i]
            && p.as_char() == '#'
        {
            let mut j = i + 1;
            if let Some(TokenTree::Punct(bang)) = toks.get(j)
                && bang.as_char() == '!'
            {
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
        out.push(match &toks[i] {
            TokenTree::Group(g) => {
                let mut ng = proc_macro2::Group::new(g.delimiter(), strip_docs(g.stream()));
                ng.set_span(g.span());
                TokenTree::Group(ng)
            }
            t => t.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// What was written last, for the spacing of the next token.
#[derive(Clone, PartialEq)]
enum Prev {
    Start,
    Ident(String),
    Literal,
    /// A punctuation character; `joint` when it is glued to the next one (`-` of `->`).
    Punct {
        ch: char,
        joint: bool,
        /// The second character of `->` or `=>`.
        arrow: bool,
        /// The second `:` of `::`.
        path_sep: bool,
    },
    Close,
}

const SPACED_KEYWORDS: &[&str] = &[
    "for", "in", "as", "where", "dyn", "mut", "const", "unsafe", "move", "ref", "return", "match",
    "if", "else", "let", "static", "extern", "impl",
];

fn write_seq(toks: &[TokenTree], delim: Option<Delimiter>, out: &mut String) {
    let commas = toks
        .iter()
        .filter(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
        .count();
    let mut prev = Prev::Start;
    let mut i = 0;
    while i < toks.len() {
        let tok = &toks[i];
        let next = toks.get(i + 1);
        match tok {
            TokenTree::Punct(p) => {
                let ch = p.as_char();
                let joint = p.spacing() == Spacing::Joint;
                // Trailing commas go (`(a, b,)`, `<T,>`, a where clause's last one), except in
                // a one-element tuple.
                if ch == ','
                    && (next.is_none()
                        || matches!(next, Some(TokenTree::Punct(n)) if n.as_char() == '>'))
                    && !(delim == Some(Delimiter::Parenthesis) && commas == 1)
                {
                    i += 1;
                    continue;
                }
                let glued_to_prev = matches!(prev, Prev::Punct { joint: true, .. });
                let space = !glued_to_prev && space_before_punct(&prev, ch, joint);
                if space {
                    out.push(' ');
                }
                out.push(ch);
                let arrow = ch == '>'
                    && matches!(
                        prev,
                        Prev::Punct {
                            ch: '-' | '=',
                            joint: true,
                            ..
                        }
                    );
                let path_sep = ch == ':'
                    && matches!(
                        prev,
                        Prev::Punct {
                            ch: ':',
                            joint: true,
                            ..
                        }
                    );
                // A joint punct only glues to a following punct.
                let joint = joint && matches!(next, Some(TokenTree::Punct(_)));
                prev = Prev::Punct {
                    ch,
                    joint,
                    arrow,
                    path_sep,
                };
            }
            TokenTree::Ident(id) => {
                let s = id.to_string();
                if space_before_word(&prev, Some(&s)) {
                    out.push(' ');
                }
                out.push_str(&s);
                prev = Prev::Ident(s);
            }
            TokenTree::Literal(l) => {
                if space_before_word(&prev, None) {
                    out.push(' ');
                }
                out.push_str(&l.to_string());
                prev = Prev::Literal;
            }
            TokenTree::Group(g) => {
                let d = g.delimiter();
                if space_before_group(&prev, d) {
                    out.push(' ');
                }
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                match d {
                    Delimiter::Parenthesis => out.push('('),
                    Delimiter::Bracket => out.push('['),
                    Delimiter::Brace => out.push('{'),
                    Delimiter::None => {}
                }
                if d == Delimiter::Brace && !inner.is_empty() {
                    out.push(' ');
                }
                write_seq(&inner, Some(d), out);
                if d == Delimiter::Brace && !inner.is_empty() {
                    out.push(' ');
                }
                match d {
                    Delimiter::Parenthesis => out.push(')'),
                    Delimiter::Bracket => out.push(']'),
                    Delimiter::Brace => out.push('}'),
                    Delimiter::None => {}
                }
                prev = Prev::Close;
            }
        }
        i += 1;
    }
}

/// No space after these: `&x`, `'a`, `#[`, `!Send`, `?Sized`, `$x`, `.`, `<T`, `::x`.
fn glues_next(prev: &Prev) -> bool {
    match prev {
        Prev::Start => true,
        Prev::Punct {
            ch,
            arrow,
            path_sep,
            ..
        } => {
            if *arrow {
                return false;
            }
            if *path_sep {
                return true;
            }
            matches!(ch, '&' | '\'' | '#' | '!' | '?' | '$' | '.' | '<')
        }
        _ => false,
    }
}

fn space_before_word(prev: &Prev, word: Option<&str>) -> bool {
    if glues_next(prev) {
        return false;
    }
    // `*const T`, `*mut T`
    if let Prev::Punct { ch: '*', .. } = prev
        && matches!(word, Some("const" | "mut"))
    {
        return false;
    }
    true
}

fn space_before_punct(prev: &Prev, ch: char, joint: bool) -> bool {
    match ch {
        ',' | ';' | '.' => false,
        // `T: Read` (one colon) and `a::b` (two)
        ':' if !joint => false,
        ':' => {
            // the first colon of `::`
            !(matches!(prev, Prev::Ident(_) | Prev::Close | Prev::Start)
                || matches!(
                    prev,
                    Prev::Punct {
                        ch: '>',
                        arrow: false,
                        ..
                    }
                )
                || glues_next(prev))
        }
        // closing angle bracket of generics
        '>' => false,
        // opening angle bracket: generics after a name or `::`
        '<' => !(matches!(prev, Prev::Ident(_)) || glues_next(prev)),
        // `foo!`, macro name
        '!' if matches!(prev, Prev::Ident(_)) => false,
        '\'' if matches!(prev, Prev::Punct { ch: '&', .. }) => false,
        _ => !glues_next(prev),
    }
}

fn space_before_group(prev: &Prev, d: Delimiter) -> bool {
    if glues_next(prev) {
        return false;
    }
    match d {
        Delimiter::Parenthesis => match prev {
            Prev::Ident(s) => SPACED_KEYWORDS.contains(&s.as_str()),
            Prev::Punct { ch: '>', arrow, .. } => *arrow,
            Prev::Punct { ch: '!', .. } => false,
            _ => true,
        },
        Delimiter::Bracket => !matches!(prev, Prev::Punct { ch: '!', .. }),
        Delimiter::Brace => true,
        Delimiter::None => !matches!(prev, Prev::Start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> String {
        node(&syn::parse_str::<syn::Type>(s).unwrap())
    }

    #[test]
    fn types_read_as_written() {
        for s in [
            "&'a [u8]",
            "&mut Vec<u8>",
            "Option<Vec<Box<dyn Fn(u64) -> bool + Send + 'static>>>",
            "fn(u8) -> (u8, u16)",
            "*const u8",
            "[u8; 4]",
            "std::io::Result<()>",
            "<T as Iterator>::Item",
            "impl Iterator<Item = (u32, &'a str)>",
            "(u8,)",
        ] {
            assert_eq!(ty(s), s);
        }
    }

    #[test]
    fn attributes_and_trailing_commas() {
        let item: syn::ItemStruct =
            syn::parse_str("#[derive(Debug, Clone,)] #[cfg(feature = \"x\")] struct A;").unwrap();
        let attrs: Vec<String> = item.attrs.iter().map(node).collect();
        assert_eq!(
            attrs,
            ["#[derive(Debug, Clone)]", "#[cfg(feature = \"x\")]"]
        );
    }
}
