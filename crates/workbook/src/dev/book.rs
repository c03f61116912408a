//! Checks that the book shows only compiled code, and shows all of it.
//!
//! The book's code comes from the crates through mdBook's `{{#include path:anchor}}` (and
//! `{{#rustdoc_include}}`), so it cannot drift from what CI builds. mdBook turns a missing
//! file into a build error, but an anchor it cannot find, or a line range past the end of the
//! file, silently becomes nothing: the reader sees an empty code block. So verify checks every
//! directive itself, and reports a `rust` code block typed into the page rather than included.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

/// A Rust block this long or shorter may be typed into the page (a one-line signature, a
/// `use`); a longer one must come from a crate.
pub const MAX_TYPED_RUST_LINES: usize = 3;

/// One `{{#include ...}}`-style directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// 1-based line of the markdown file.
    pub line: usize,
    /// The directive as written, for messages.
    pub text: String,
    /// The path as written, relative to the markdown file's folder.
    pub path: String,
    pub selector: Selector,
}

/// Which part of the file a directive takes, following mdBook's own reading of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Whole,
    /// Between `ANCHOR: name` and `ANCHOR_END: name`.
    Anchor(String),
    /// 1-based, inclusive; `last: None` runs to the end of the file.
    Lines {
        first: usize,
        last: Option<usize>,
    },
}

/// Finds the include directives of a markdown text: `{{#include p}}`, `{{#include p:anchor}}`,
/// `{{#include p:N}}`, `{{#include p:N:M}}`, `{{#include p:N:}}`, `{{#include p::M}}`, and the same
/// for `rustdoc_include` and `playground` (whole file). `\{{#include ...}}` is mdBook's escape,
/// shown as text, and is skipped.
pub fn find_includes(markdown: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        let mut rest = line;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            let escaped = start > 0 && rest.as_bytes()[start - 1] == b'\\';
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            if !escaped && let Some(include) = parse_directive(&after[..end], index + 1) {
                found.push(include);
            }
            offset += start + 2 + end + 2;
            rest = &line[offset..];
        }
    }
    found
}

/// Reads the inside of `{{ ... }}`: `#include path:selector`.
fn parse_directive(inside: &str, line: usize) -> Option<Include> {
    let inside = inside.trim_start().strip_prefix('#')?;
    let (kind, argument) = inside.split_once(char::is_whitespace)?;
    if !matches!(kind, "include" | "rustdoc_include" | "playground") {
        return None;
    }
    let argument = argument.trim();
    // mdBook accepts a quoted path for names with spaces or colons.
    let (path, selector_text) = match argument.strip_prefix('"') {
        Some(quoted) => {
            let (path, after) = quoted.split_once('"')?;
            (path.to_string(), after.trim_start().strip_prefix(':'))
        }
        None => {
            let first_word = argument.split_whitespace().next()?;
            match first_word.split_once(':') {
                Some((path, selector)) => (path.to_string(), Some(selector)),
                None => (first_word.to_string(), None),
            }
        }
    };
    let selector = match (kind, selector_text) {
        ("playground", _) | (_, None) => Selector::Whole,
        (_, Some(text)) => parse_selector(text),
    };
    Some(Include {
        line,
        text: format!("{{{{#{kind} {argument}}}}}"),
        path,
        selector,
    })
}

/// The part after the path's colon, read the way mdBook reads it: a number starts a line range
/// (a lone number is that one line), an empty first part is "from the start", anything else
/// is an anchor name.
fn parse_selector(text: &str) -> Selector {
    let mut parts = text.splitn(3, ':');
    let first = parts.next().unwrap_or("");
    let start = match first.parse::<usize>() {
        Ok(number) => Some(number.max(1)),
        Err(_) if first.is_empty() => None,
        Err(_) => return Selector::Anchor(first.to_string()),
    };
    let end = parts.next().map(str::parse::<usize>);
    match (start, end) {
        (Some(first), Some(Ok(last))) => Selector::Lines {
            first,
            last: Some(last),
        },
        (Some(first), Some(Err(_))) => Selector::Lines { first, last: None },
        (Some(first), None) => Selector::Lines {
            first,
            last: Some(first),
        },
        (None, Some(Ok(last))) => Selector::Lines {
            first: 1,
            last: Some(last),
        },
        (None, _) => Selector::Whole,
    }
}

/// Why `include`, found in a markdown file in `base_dir`, would show nothing or the wrong thing;
/// `None` when it resolves.
pub fn include_problem(base_dir: &Path, include: &Include) -> Option<String> {
    let target = base_dir.join(&include.path);
    let text = match fs::read(&target) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) if target.is_dir() => return Some(format!("{} is a folder", include.path)),
        Err(_) => return Some(format!("{} does not exist", include.path)),
    };
    match &include.selector {
        Selector::Whole => None,
        Selector::Anchor(name) => {
            anchor_problem(&text, name).map(|problem| format!("{problem} in {}", include.path))
        }
        Selector::Lines { first, last } => {
            let count = text.lines().count();
            let past_end = (*first).max(last.unwrap_or(0));
            (past_end > count).then(|| {
                format!(
                    "asks for line {past_end} but {} has {count} lines; line ranges drift when the \
                     file changes, an anchor does not",
                    include.path
                )
            })
        }
    }
}

/// Whether `text` has `ANCHOR: name` followed later by `ANCHOR_END: name`; `None` when it does.
pub fn anchor_problem(text: &str, name: &str) -> Option<String> {
    let line_of = |marker: &str| {
        text.lines()
            .position(|line| anchor_names(line, marker).any(|found| found == name))
    };
    match (line_of("ANCHOR:"), line_of("ANCHOR_END:")) {
        (Some(start), Some(end)) if start < end => None,
        (Some(_), Some(_)) => Some(format!(
            "`ANCHOR_END: {name}` comes before `ANCHOR: {name}`"
        )),
        (Some(_), None) => Some(format!("`ANCHOR: {name}` has no `ANCHOR_END: {name}`")),
        (None, Some(_)) => Some(format!("`ANCHOR_END: {name}` has no `ANCHOR: {name}`")),
        (None, None) => Some(format!(
            "no anchor `{name}` (`ANCHOR: {name}` … `ANCHOR_END: {name}`)"
        )),
    }
}

/// The anchor names after each `marker` in a line, as mdBook reads them (`[\w-]+`).
fn anchor_names<'a>(line: &'a str, marker: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    line.match_indices(marker).map(move |(at, _)| {
        let rest = line[at + marker.len()..].trim_start();
        let length = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        &rest[..length]
    })
}

/// A ```` ```rust ```` block typed into a page, longer than [`MAX_TYPED_RUST_LINES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedRustBlock {
    /// 1-based line of the opening fence.
    pub line: usize,
    pub non_blank_lines: usize,
}

/// The `rust` code blocks of a markdown text with more than [`MAX_TYPED_RUST_LINES`]
/// non-blank lines, unless every one of those lines is an include directive. The blocks are
/// found by a CommonMark parser (pulldown-cmark), so a fence shown inside a longer fence, an
/// indented block or a `~~~` block count exactly as mdBook counts them.
pub fn typed_rust_blocks(markdown: &str) -> Vec<TypedRustBlock> {
    use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

    let mut found = Vec::new();
    // The block being read: its 1-based line, whether it is Rust, and its text.
    let mut open: Option<(usize, bool, String)> = None;
    for (event, range) in Parser::new(markdown).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let rust = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split([',', ' ', '{']).next() == Some("rust")
                    }
                    CodeBlockKind::Indented => false,
                };
                let line = markdown[..range.start].lines().count() + 1;
                open = Some((line, rust, String::new()));
            }
            Event::Text(text) => {
                if let Some((_, _, block)) = &mut open {
                    block.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((line, true, text)) = open.take()
                    && let Some(typed) = typed_rust(line, &text)
                {
                    found.push(typed);
                }
            }
            _ => {}
        }
    }
    found
}

/// The Rust block at `line` with `text`, if it is typed into the page and too long for that.
fn typed_rust(line: usize, text: &str) -> Option<TypedRustBlock> {
    let non_blank: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let all_included = non_blank
        .iter()
        .all(|line| line.trim().starts_with("{{") && find_includes(line).len() == 1);
    (non_blank.len() > MAX_TYPED_RUST_LINES && !all_included).then_some(TypedRustBlock {
        line,
        non_blank_lines: non_blank.len(),
    })
}

/// Everything verify says about the book's code.
#[derive(Debug, Default)]
pub struct BookCheck {
    pub pages: usize,
    pub includes: usize,
    /// `book/src/x.md:12: {{#include ...}}: what is wrong`
    pub include_problems: Vec<String>,
    /// `book/src/x.md:40: a rust block of 7 lines ...`
    pub typed_blocks: Vec<String>,
}

/// Checks every markdown page under `src_dir`; `shown` turns a path into what messages print.
pub fn check_pages(src_dir: &Path, shown: impl Fn(&Path) -> String) -> io::Result<BookCheck> {
    let mut check = BookCheck::default();
    for page in markdown_files(src_dir)? {
        let text = fs::read_to_string(&page)?;
        let base = page.parent().unwrap_or(src_dir);
        check.pages += 1;
        for include in find_includes(&text) {
            check.includes += 1;
            if let Some(problem) = include_problem(base, &include) {
                let where_ = format!("{}:{}", shown(&page), include.line);
                check
                    .include_problems
                    .push(format!("{where_}: {}: {problem}", include.text));
            }
        }
        for block in typed_rust_blocks(&text) {
            check.typed_blocks.push(format!(
                "{}:{}: a rust block of {} lines typed into the page; include it from a crate \
                 (with an ANCHOR) so that it is compiled",
                shown(&page),
                block.line,
                block.non_blank_lines
            ));
        }
    }
    Ok(check)
}

/// The `.md` files below `dir`, sorted.
fn markdown_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The link targets in `SUMMARY.md` (`- [Title](steps/02-x.md)` → `steps/02-x.md`); draft
/// chapters, written `[Title]()`, have none.
pub fn summary_targets(summary: &str) -> Vec<String> {
    summary
        .lines()
        .filter_map(|line| {
            let after = &line[line.find("](")? + 2..];
            let target = &after[..after.find(')')?];
            (!target.is_empty()).then(|| target.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    fn selector(directive: &str) -> Selector {
        let includes = find_includes(directive);
        assert_eq!(includes.len(), 1, "{directive}");
        includes[0].selector.clone()
    }

    #[test]
    fn reads_every_form_of_include_the_way_mdbook_does() {
        let lines = |first, last| Selector::Lines { first, last };
        assert_eq!(selector("{{#include a.rs}}"), Selector::Whole);
        assert_eq!(
            selector("{{#include a.rs:spans}}"),
            Selector::Anchor("spans".into())
        );
        assert_eq!(selector("{{#include a.rs:4}}"), lines(4, Some(4)));
        assert_eq!(selector("{{#include a.rs:4:9}}"), lines(4, Some(9)));
        assert_eq!(selector("{{#include a.rs:4:}}"), lines(4, None));
        assert_eq!(selector("{{#include a.rs::9}}"), lines(1, Some(9)));
        assert_eq!(
            selector("{{#rustdoc_include a.rs:spans}}"),
            Selector::Anchor("spans".into())
        );
        assert_eq!(
            selector("{{ #include \"my file.rs\":spans }}"),
            Selector::Anchor("spans".into())
        );
        assert_eq!(selector("{{#playground a.rs editable}}"), Selector::Whole);
    }

    #[test]
    fn finds_paths_lines_and_skips_escaped_and_foreign_directives() {
        let page = "text {{#include ../a.rs:x}} and {{#include b.rs}}\n\\{{#include c.rs}}\n{{#title T}}\n";
        let includes = find_includes(page);
        let paths: Vec<(&str, usize)> =
            includes.iter().map(|i| (i.path.as_str(), i.line)).collect();
        assert_eq!(paths, [("../a.rs", 1), ("b.rs", 1)]);
        assert_eq!(includes[0].text, "{{#include ../a.rs:x}}");
    }

    #[test]
    fn an_anchor_needs_both_ends_in_order() {
        let text = "// ANCHOR: spans\nlet x = 1;\n// ANCHOR_END: spans\n// ANCHOR: half\n";
        assert_eq!(anchor_problem(text, "spans"), None);
        assert!(
            anchor_problem(text, "half")
                .unwrap()
                .contains("no `ANCHOR_END: half`")
        );
        assert!(
            anchor_problem(text, "span")
                .unwrap()
                .starts_with("no anchor `span`")
        );
        let reversed = "// ANCHOR_END: a\n// ANCHOR: a\n";
        assert!(
            anchor_problem(reversed, "a")
                .unwrap()
                .contains("comes before")
        );
        // A longer name that starts like the one asked for is another anchor.
        assert!(
            anchor_problem("// ANCHOR: spans_all\n// ANCHOR_END: spans_all\n", "spans").is_some()
        );
    }

    #[test]
    fn includes_resolve_relative_to_the_page_folder() {
        let repo = TempDir::new();
        repo.write(
            "src/lib.rs",
            "// ANCHOR: main\nfn main() {}\n// ANCHOR_END: main\n",
        );
        repo.write(
            "book/src/steps/01.md",
            "{{#include ../../../src/lib.rs:main}}\n{{#include ../../../src/lib.rs:gone}}\n\
             {{#include ../../../src/missing.rs}}\n{{#include ../../../src/lib.rs:2:3}}\n\
             {{#include ../../../src/lib.rs:3:8}}\n",
        );
        let check = check_pages(&repo.path().join("book/src"), |p| {
            p.strip_prefix(repo.path()).unwrap().display().to_string()
        })
        .unwrap();
        assert_eq!(check.pages, 1);
        assert_eq!(check.includes, 5);
        assert_eq!(
            check.include_problems.len(),
            3,
            "{:#?}",
            check.include_problems
        );
        assert!(check.include_problems[0].starts_with(
            "book/src/steps/01.md:2: {{#include ../../../src/lib.rs:gone}}: no anchor `gone`"
        ));
        assert!(check.include_problems[1].contains("missing.rs does not exist"));
        assert!(check.include_problems[2].contains("asks for line 8 but"));
    }

    #[test]
    fn long_typed_rust_blocks_are_found_and_included_or_short_ones_are_not() {
        let page = "\
```rust
{{#include ../a.rs:x}}
```

```rust,ignore
let a = 1;
let b = 2;

let c = 3;
```

```rust
fn one() {}
fn two() {}
fn three() {}
fn four() {}
```

```toml
a = 1
b = 2
c = 3
d = 4
```

````markdown
```rust
a();
b();
c();
d();
```
````
";
        assert_eq!(
            typed_rust_blocks(page),
            [TypedRustBlock {
                line: 12,
                non_blank_lines: 4
            }]
        );
    }

    #[test]
    fn summary_targets_skip_draft_chapters() {
        let summary =
            "# Summary\n- [Step 01](steps/01-a.md)\n- [Step 05 · Later]()\n[Welcome](welcome.md)\n";
        assert_eq!(summary_targets(summary), ["steps/01-a.md", "welcome.md"]);
    }
}
