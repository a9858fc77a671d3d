//! Assertion rewriting from ruff's parse, the native twin of the worker's
//! Python rewriter (`dbtest/worker/rewrite_ast.py`, the reference).
//!
//! [`rewrite`] turns a test module's source into source whose asserts are
//! rewritten exactly as the Python rewriter rewrites its AST:
//!
//! ```text
//! assert f(x) == y, msg
//! ```
//! becomes
//! ```text
//! if not ((_dbtest_r_2 := ((_dbtest_r_1 := (f))(x))) == y): raise _dbtest_r_assert.fail('_dbtest_r_t0', msg)
//! del _dbtest_r_1, _dbtest_r_2
//! ```
//! The failure's description template (a nested tuple, `rewrite_ast.Template`)
//! is not written into the text: compiling tuple literals was half of the
//! compile's time. A placeholder constant stands in its place, and the worker
//! puts the template, built as Python objects from [`TemplateValue`], where the
//! placeholder is in the code's constants; the source's literals in a template
//! are the module's [`Rewrite::Rewritten::constants`], which the worker
//! evaluates once.
//! The worker compiles that text (no Python AST is built) and hands the code
//! and the [`PositionMap`] to [`linetable::restore`], which puts every
//! instruction's position back where the Python rewriter's code has it (the
//! original source's, or for generated code its assert's) and renames the
//! temporaries to the names Python source cannot spell (`_dbtest_r_1` →
//! `@dbtest_1`). The result is the code object the Python rewriter compiles,
//! equal under `==` (the differential test checks that).
//!
//! Whatever this module does not handle exactly is [`Unsupported`]: the worker
//! then uses the Python rewriter, so a module is never rewritten differently.

pub mod linetable;

use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::{Ranged, TextRange};
use std::collections::HashMap;

/// A description template's value: what the Python rewriter writes as a
/// tuple literal, as the objects `restore_code` builds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TemplateValue {
    Str(String),
    Int(i64),
    Bool(bool),
    None,
    Tuple(Vec<TemplateValue>),
    /// The module's literal of this index (see [`Rewrite::Rewritten`]).
    Constant(usize),
}

/// Values in the order first met, each once: equal values get one index.
struct Interned<T> {
    values: Vec<T>,
    index: HashMap<T, usize>,
}

impl<T> Default for Interned<T> {
    fn default() -> Self {
        Interned {
            values: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T: Clone + Eq + std::hash::Hash> Interned<T> {
    fn index_of(&mut self, value: T) -> usize {
        if let Some(&index) = self.index.get(&value) {
            return index;
        }
        self.values.push(value.clone());
        self.index.insert(value, self.values.len() - 1);
        self.values.len() - 1
    }
}

/// The index of the template a placeholder constant names, if `text` is one.
pub fn placeholder_index(text: &str) -> Option<usize> {
    text.strip_prefix(PREFIX)?.strip_prefix('t')?.parse().ok()
}

/// Prefix of the names the rewritten source uses; a source that contains it is
/// left to the Python rewriter, so renaming can never touch a user's name.
pub const PREFIX: &str = "_dbtest_r_";
/// The runtime module's name in rewritten source (`@dbtest_assert` once restored).
pub const RUNTIME: &str = "_dbtest_r_assert";
const RUNTIME_MODULE: &str = "dbtest.worker.assertion";
const OPT_OUT: [&str; 2] = ["DBTEST_DONT_REWRITE", "PYTEST_DONT_REWRITE"];
/// Deeper expressions are left to the Python rewriter (which keeps such an
/// assert plain when its own recursion gives up).
const MAX_DEPTH: u32 = 80;

/// What a module's rewrite is.
#[derive(Debug)]
pub enum Rewrite {
    /// Nothing to rewrite (no assert, or the docstring opts out): compile the
    /// source as it is.
    Plain,
    /// The rewritten source and the map back to the original's positions.
    Rewritten {
        source: String,
        map: PositionMap,
        /// The templates the placeholders `'<PREFIX>t<index>'` stand for.
        templates: Vec<TemplateValue>,
        /// The source text of each literal the templates refer to
        /// ([`TemplateValue::Constant`]), one line each.
        constants: Vec<String>,
    },
}

/// Why a module is left to the Python rewriter.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unsupported {
    #[error("the source does not parse: {0}")]
    Syntax(String),
    #[error("the source contains the rewriter's prefix")]
    Prefix,
    #[error("an assert shares its line with other code")]
    SharedLine,
    #[error("an assert's expression nests too deep")]
    TooDeep,
    #[error("a name in an explained expression is not ASCII")]
    NonAsciiName,
    #[error("a multi-line string constant that cannot be written back exactly")]
    Constant,
    #[error("the runtime import has no line of its own")]
    ImportLine,
}

/// One piece of the rewritten source: copied from the original, or generated.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Where the piece starts in the rewritten source (bytes).
    out_start: u32,
    kind: SegmentKind,
}

#[derive(Debug, Clone, Copy)]
enum SegmentKind {
    /// Copied from this offset of the original source.
    Original(u32),
    /// Generated: positions starting in it map to `start`, positions ending in
    /// it to `end` (offsets in the original: the node the Python rewriter
    /// gives the generated node's position of).
    Generated { start: u32, end: u32 },
}

/// Maps positions in the rewritten source back to the original source.
#[derive(Debug, Clone)]
pub struct PositionMap {
    segments: Vec<Segment>,
    out_len: u32,
    out_lines: Vec<u32>,
    original_lines: Vec<u32>,
    /// Locations for exact spans of the rewritten source, sorted: the
    /// generated `<runtime>.fail` and `<runtime>.UNSET` of an assert that spans
    /// lines. CPython 3.11 moves an attribute load spanning lines to the line
    /// of its attribute name (`update_start_location_to_match_attr`); the
    /// Python rewriter's generated attributes take their assert's span, so
    /// their loads land there, which no start/end mapping of a one-line
    /// attribute gives.
    overrides: Vec<(u32, u32, linetable::Location)>,
}

/// A (line, column) position: 1-based line, 0-based UTF-8 byte column.
pub type Position = (i32, i32);

impl PositionMap {
    fn segment_at(&self, offset: u32, end: bool) -> Option<&Segment> {
        if self.segments.is_empty() {
            return None;
        }
        // A start belongs to the piece holding its byte; an end to the piece
        // holding the byte before it.
        let probe = if end {
            offset.saturating_sub(1)
        } else {
            offset
        };
        let index = self
            .segments
            .partition_point(|segment| segment.out_start <= probe)
            .saturating_sub(1);
        self.segments.get(index)
    }

    fn override_for(&self, start: Position, end: Position) -> Option<linetable::Location> {
        if self.overrides.is_empty() {
            return None;
        }
        let key = (self.out_offset(start)?, self.out_offset(end)?);
        let index = self
            .overrides
            .binary_search_by_key(&key, |&(start, end, _)| (start, end))
            .ok()?;
        Some(self.overrides[index].2)
    }

    fn out_offset(&self, (line, column): Position) -> Option<u32> {
        let start = *self
            .out_lines
            .get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let offset = start.checked_add(u32::try_from(column).ok()?)?;
        (offset <= self.out_len).then_some(offset)
    }

    fn original_position(&self, offset: u32) -> Position {
        position_in(&self.original_lines, offset)
    }

    fn map(&self, position: Position, end: bool) -> Option<Position> {
        let offset = self.out_offset(position)?;
        let segment = self.segment_at(offset, end)?;
        let original = match segment.kind {
            SegmentKind::Original(start) => start + (offset - segment.out_start),
            SegmentKind::Generated { start, end: stop } => {
                if end {
                    stop
                } else {
                    start
                }
            }
        };
        Some(self.original_position(original))
    }

    /// The original position of a start position in the rewritten source.
    pub fn map_start(&self, position: Position) -> Option<Position> {
        self.map(position, false)
    }

    /// The original position of an end position in the rewritten source.
    pub fn map_end(&self, position: Position) -> Option<Position> {
        self.map(position, true)
    }

    /// The original line of a rewritten line (its first byte's).
    pub fn map_line(&self, line: i32) -> Option<i32> {
        self.map_start((line, 0)).map(|(line, _)| line)
    }
}

fn position_in(lines: &[u32], offset: u32) -> Position {
    let line = lines.partition_point(|&start| start <= offset);
    let start = lines[line.saturating_sub(1)];
    (line as i32, (offset - start) as i32)
}

/// Line start offsets as Python counts lines (`\n`, `\r\n` and `\r` end one).
fn line_starts(text: &str) -> Vec<u32> {
    let bytes = text.as_bytes();
    let mut starts = vec![0u32];
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\n' => starts.push(index as u32 + 1),
            b'\r' => {
                if bytes.get(index + 1) == Some(&b'\n') {
                    index += 1;
                }
                starts.push(index as u32 + 1);
            }
            _ => {}
        }
        index += 1;
    }
    starts
}

/// Rewrites the asserts of `source` (see the module documentation).
pub fn rewrite(source: &str) -> Result<Rewrite, Unsupported> {
    if source.contains(PREFIX) {
        return Err(Unsupported::Prefix);
    }
    if u32::try_from(source.len()).is_err() {
        return Err(Unsupported::Syntax("the source is too large".into()));
    }
    let parsed = ruff_python_parser::parse_module(source)
        .map_err(|err| Unsupported::Syntax(err.error.to_string()))?;
    let body = &parsed.syntax().body;
    let docstring = docstring(body);
    if docstring.is_some_and(|text| OPT_OUT.iter().any(|marker| text.contains(marker))) {
        return Ok(Rewrite::Plain);
    }
    let mut module = ModuleRewriter {
        source,
        names: 1,
        rewritten: 0,
        edits: Vec::new(),
        templates: Interned::default(),
        constants: Interned::default(),
    };
    module.block(body)?;
    if module.rewritten == 0 {
        return Ok(Rewrite::Plain);
    }
    module.import_runtime(body, docstring.is_some())?;
    Ok(module.finish())
}

fn docstring(body: &[Stmt]) -> Option<&str> {
    match body.first() {
        Some(Stmt::Expr(statement)) => match statement.value.as_ref() {
            Expr::StringLiteral(literal) => Some(literal.value.to_str()),
            _ => None,
        },
        _ => None,
    }
}

/// An insertion (or, with `end > at`, a replacement) in the original source.
#[derive(Debug)]
struct Edit {
    at: u32,
    end: u32,
    /// Among edits at the same offset, lower ranks come first.
    rank: u8,
    /// Among edits of the same rank at the same offset, the order to keep.
    order: i64,
    text: String,
    anchor: (u32, u32),
    /// Generated attribute loads in `text`: (start, end) in it and the
    /// attribute's length (see [`PositionMap::overrides`]).
    attributes: Vec<(u32, u32, u32)>,
}

// Ranks of edits at one offset, in the order their texts must appear.
const RANK_IMPORT: u8 = 0;
const RANK_UNSET: u8 = 1;
const RANK_CLOSE: u8 = 2;
const RANK_RAISE: u8 = 3;
const RANK_END: u8 = 4;
const RANK_DEL: u8 = 5;
const RANK_OPEN: u8 = 6;
const RANK_KEYWORD: u8 = 7;

struct ModuleRewriter<'s> {
    source: &'s str,
    names: u32,
    rewritten: u32,
    edits: Vec<Edit>,
    /// Equal templates share one placeholder, as the compiler keeps one
    /// constant for equal tuples.
    templates: Interned<TemplateValue>,
    /// The source texts of the literals templates hold (not plain ones).
    constants: Interned<String>,
}

impl<'s> ModuleRewriter<'s> {
    /// Rewrites a block's asserts, descending into compound statements in the
    /// Python rewriter's order (`body`, `orelse`, `finalbody`, then handlers
    /// and cases): the temporaries are numbered in that order.
    fn block(&mut self, statements: &[Stmt]) -> Result<(), Unsupported> {
        for statement in statements {
            match statement {
                Stmt::Assert(assert) => self.assertion(assert)?,
                Stmt::FunctionDef(def) => self.block(&def.body)?,
                Stmt::ClassDef(class) => self.block(&class.body)?,
                Stmt::If(node) => {
                    self.block(&node.body)?;
                    for clause in &node.elif_else_clauses {
                        self.block(&clause.body)?;
                    }
                }
                Stmt::For(node) => {
                    self.block(&node.body)?;
                    self.block(&node.orelse)?;
                }
                Stmt::While(node) => {
                    self.block(&node.body)?;
                    self.block(&node.orelse)?;
                }
                Stmt::With(node) => self.block(&node.body)?,
                Stmt::Try(node) => {
                    self.block(&node.body)?;
                    self.block(&node.orelse)?;
                    self.block(&node.finalbody)?;
                    for handler in &node.handlers {
                        let ast::ExceptHandler::ExceptHandler(handler) = handler;
                        self.block(&handler.body)?;
                    }
                }
                Stmt::Match(node) => {
                    for case in &node.cases {
                        self.block(&case.body)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn line_start(&self, offset: u32) -> u32 {
        let before = &self.source.as_bytes()[..offset as usize];
        before
            .iter()
            .rposition(|&byte| byte == b'\n' || byte == b'\r')
            .map_or(0, |index| index as u32 + 1)
    }

    fn assertion(&mut self, assert: &ast::StmtAssert) -> Result<(), Unsupported> {
        let bytes = self.source.as_bytes();
        let start = assert.range.start().to_u32();
        let end = assert.range.end().to_u32();
        // The assert becomes an `if` and its temporaries' `del` a line of its
        // own: it must stand alone on its lines.
        let line_start = self.line_start(start);
        let indent = &self.source[line_start as usize..start as usize];
        if !indent
            .bytes()
            .all(|byte| matches!(byte, b' ' | b'\t' | b'\x0c'))
        {
            return Err(Unsupported::SharedLine);
        }
        let rest = bytes[end as usize..]
            .iter()
            .take_while(|&&byte| byte != b'\n' && byte != b'\r')
            .find(|&&byte| !matches!(byte, b' ' | b'\t' | b'\x0c'));
        if rest.is_some_and(|&byte| byte != b'#') {
            return Err(Unsupported::SharedLine);
        }
        if bytes.get(start as usize..start as usize + 6) != Some(b"assert".as_slice()) {
            return Err(Unsupported::SharedLine);
        }
        let anchor = (start, end);
        let mut rewriter = AssertRewriter {
            source: self.source,
            names: &mut self.names,
            temps: Vec::new(),
            maybe_unset: Vec::new(),
            depth: 0,
            nesting: 0,
            edits: &mut self.edits,
            constants: &mut self.constants,
        };
        let template = rewriter.visit(&assert.test, true)?.value;
        let temps = std::mem::take(&mut rewriter.temps);
        let maybe_unset = std::mem::take(&mut rewriter.maybe_unset);
        let indent = indent.to_owned();
        let placeholder = self.templates.index_of(template);
        if !maybe_unset.is_empty() {
            let targets: Vec<String> = maybe_unset.iter().map(|n| temp(*n)).collect();
            self.edit(
                line_start,
                RANK_UNSET,
                0,
                format!("{indent}{} = {RUNTIME}.UNSET\n", targets.join(" = ")),
                anchor,
            );
        }
        self.edits.push(Edit {
            at: start,
            end: start + 6,
            rank: RANK_KEYWORD,
            order: 0,
            text: "if not (".into(),
            anchor,
            attributes: Vec::new(),
        });
        let raise_at = match &assert.msg {
            Some(msg) => self.comma(assert.test.end().to_u32(), msg.start().to_u32())?,
            None => end,
        };
        self.edit(
            raise_at,
            RANK_RAISE,
            0,
            format!("): raise {RUNTIME}.fail('{PREFIX}t{placeholder}'"),
            anchor,
        );
        self.edit(end, RANK_END, 0, ")".into(), anchor);
        if !temps.is_empty() {
            let targets: Vec<String> = temps.iter().map(|n| temp(*n)).collect();
            self.edit(
                end,
                RANK_DEL,
                0,
                format!("\n{indent}del {}", targets.join(", ")),
                anchor,
            );
        }
        self.rewritten += 1;
        Ok(())
    }

    /// The offset of the comma between an assert's test and its message.
    fn comma(&self, from: u32, to: u32) -> Result<u32, Unsupported> {
        let bytes = self.source.as_bytes();
        let mut index = from as usize;
        while index < to as usize {
            match bytes[index] {
                b',' => return Ok(index as u32),
                b'#' => {
                    while index < bytes.len() && bytes[index] != b'\n' && bytes[index] != b'\r' {
                        index += 1;
                    }
                }
                _ => index += 1,
            }
        }
        Err(Unsupported::SharedLine)
    }

    fn edit(&mut self, at: u32, rank: u8, order: i64, text: String, anchor: (u32, u32)) {
        let attributes = [".fail(", ".UNSET\n"]
            .iter()
            .filter_map(|needle| {
                let dot = text.find(&format!("{RUNTIME}{needle}"))? + RUNTIME.len();
                let name = needle.len() as u32 - 2;
                let start = (dot - RUNTIME.len()) as u32;
                Some((start, dot as u32 + 1 + name, name))
            })
            .collect();
        self.edits.push(Edit {
            at,
            end: at,
            rank,
            order,
            text,
            anchor,
            attributes,
        });
    }

    /// `import dbtest.worker.assertion as <runtime>` before the first
    /// statement after the docstring and `from __future__` imports, on a line
    /// of its own, positioned (as by the Python rewriter) at that statement's
    /// line, column 0 (line 1 when there is none).
    fn import_runtime(&mut self, body: &[Stmt], has_docstring: bool) -> Result<(), Unsupported> {
        let mut position = usize::from(has_docstring);
        while let Some(Stmt::ImportFrom(import)) = body.get(position) {
            if import.module.as_ref().map(|m| m.as_str()) != Some("__future__") {
                break;
            }
            position += 1;
        }
        let text = format!("import {RUNTIME_MODULE} as {RUNTIME}\n");
        match body.get(position) {
            Some(statement) => {
                // The import's line differs from the statement's here, where
                // the Python rewriter's shares it: a statement that compiles
                // to a leading NOP (`try`, `pass`, `if` on a constant...) would
                // keep it here and lose it there. Only statements without one.
                let plain = match statement {
                    Stmt::Import(_)
                    | Stmt::ImportFrom(_)
                    | Stmt::FunctionDef(_)
                    | Stmt::ClassDef(_)
                    | Stmt::Assign(_)
                    | Stmt::AugAssign(_)
                    | Stmt::AnnAssign(_) => true,
                    Stmt::Expr(expr) => expr.value.is_call_expr(),
                    _ => false,
                };
                if !plain {
                    return Err(Unsupported::ImportLine);
                }
                let at = statement.start().to_u32();
                if self.line_start(at) != at {
                    return Err(Unsupported::ImportLine);
                }
                self.edit(at, RANK_IMPORT, 0, text, (at, at));
            }
            None => {
                let at = self.source.len() as u32;
                let text = if self.source.is_empty() || self.source.ends_with(['\n', '\r']) {
                    text
                } else {
                    format!("\n{text}")
                };
                self.edit(at, RANK_IMPORT, 0, text, (0, 0));
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Rewrite {
        self.edits
            .sort_by_key(|edit| (edit.at, edit.rank, edit.order));
        let mut out = String::with_capacity(self.source.len() * 2);
        let mut segments = Vec::with_capacity(self.edits.len() * 2 + 1);
        let mut cursor = 0u32;
        let original_lines = line_starts(self.source);
        let mut overrides = Vec::new();
        for edit in &self.edits {
            if edit.at > cursor {
                segments.push(Segment {
                    out_start: out.len() as u32,
                    kind: SegmentKind::Original(cursor),
                });
                out.push_str(&self.source[cursor as usize..edit.at as usize]);
                cursor = edit.at;
            }
            if !edit.text.is_empty() {
                let base = out.len() as u32;
                for &(start, end, length) in &edit.attributes {
                    let (line, _) = position_in(&original_lines, edit.anchor.0);
                    let (end_line, end_column) = position_in(&original_lines, edit.anchor.1);
                    if line == end_line {
                        continue;
                    }
                    let column = end_column - length as i32;
                    let location = if column >= 0 {
                        linetable::Location {
                            line: end_line,
                            end_line,
                            column,
                            end_column,
                        }
                    } else {
                        linetable::Location {
                            line: end_line,
                            end_line,
                            column: -1,
                            end_column: -1,
                        }
                    };
                    overrides.push((base + start, base + end, location));
                }
                segments.push(Segment {
                    out_start: out.len() as u32,
                    kind: SegmentKind::Generated {
                        start: edit.anchor.0,
                        end: edit.anchor.1,
                    },
                });
                out.push_str(&edit.text);
            }
            cursor = cursor.max(edit.end);
        }
        if (cursor as usize) < self.source.len() {
            segments.push(Segment {
                out_start: out.len() as u32,
                kind: SegmentKind::Original(cursor),
            });
            out.push_str(&self.source[cursor as usize..]);
        }
        let mut map = PositionMap {
            segments,
            out_len: out.len() as u32,
            out_lines: line_starts(&out),
            original_lines,
            overrides,
        };
        map.overrides.sort_by_key(|&(start, end, _)| (start, end));
        Rewrite::Rewritten {
            source: out,
            map,
            templates: self.templates.values,
            constants: self.constants.values,
        }
    }
}

fn temp(number: u32) -> String {
    format!("{PREFIX}{number}")
}

/// A description template (see `rewrite_ast.Template`).
struct Template {
    value: TemplateValue,
    constant: bool,
}

impl Template {
    fn node(items: Vec<TemplateValue>) -> Self {
        Template {
            value: TemplateValue::Tuple(items),
            constant: false,
        }
    }
}

fn text(value: &str) -> TemplateValue {
    TemplateValue::Str(value.to_owned())
}

fn int(value: u32) -> TemplateValue {
    TemplateValue::Int(value.into())
}

/// The value of a literal's text when it is plainly one (a decimal integer,
/// `True`, `False`, `None`, a one-line string without escapes): the common
/// literals, built without evaluating anything.
fn plain_literal(text: &str) -> Option<TemplateValue> {
    match text {
        "True" => return Some(TemplateValue::Bool(true)),
        "False" => return Some(TemplateValue::Bool(false)),
        "None" => return Some(TemplateValue::None),
        _ => {}
    }
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    if first.is_ascii_digit() {
        let decimal = bytes.iter().all(u8::is_ascii_digit) && (first != b'0' || bytes.len() == 1);
        return if decimal && bytes.len() <= 18 {
            text.parse().ok().map(TemplateValue::Int)
        } else {
            None
        };
    }
    if first != b'\'' && first != b'"' {
        return None; // a prefix (b, r, u...), or another kind of literal
    }
    let inner = text.get(1..text.len().checked_sub(1)?)?;
    // One string with no escapes: an inner quote or backslash means implicit
    // concatenation, an escape or a triple-quoted string.
    let plain = text.len() >= 2
        && bytes[bytes.len() - 1] == first
        && !inner.contains([first as char, '\\', '\n', '\r']);
    plain.then(|| TemplateValue::Str(inner.to_owned()))
}

struct AssertRewriter<'a, 's> {
    source: &'s str,
    names: &'a mut u32,
    temps: Vec<u32>,
    maybe_unset: Vec<u32>,
    depth: u32,
    nesting: u32,
    edits: &'a mut Vec<Edit>,
    constants: &'a mut Interned<String>,
}

fn quote(name: &str) -> Result<TemplateValue, Unsupported> {
    // Python normalises non-ASCII identifiers (NFKC); leave those to it.
    if !name.is_ascii() {
        return Err(Unsupported::NonAsciiName);
    }
    Ok(text(name))
}

impl AssertRewriter<'_, '_> {
    /// `((<temp> := (value)))` around `range`, positioned as `anchor`; the
    /// temporary's number.
    fn keep(&mut self, range: TextRange, anchor: TextRange) -> u32 {
        let number = *self.names;
        *self.names += 1;
        self.temps.push(number);
        if self.depth > 0 {
            self.maybe_unset.push(number);
        }
        let anchor = (anchor.start().to_u32(), anchor.end().to_u32());
        self.edits.push(Edit {
            at: range.start().to_u32(),
            end: range.start().to_u32(),
            rank: RANK_OPEN,
            // The outermost (kept last) opens first.
            order: -i64::from(number),
            text: format!("({} := (", temp(number)),
            anchor,
            attributes: Vec::new(),
        });
        self.edits.push(Edit {
            at: range.end().to_u32(),
            end: range.end().to_u32(),
            rank: RANK_CLOSE,
            // The innermost (kept first) closes first.
            order: i64::from(number),
            text: "))".into(),
            anchor,
            attributes: Vec::new(),
        });
        number
    }

    fn keep_node(&mut self, expr: &Expr) -> u32 {
        self.keep(expr.range(), expr.range())
    }

    fn generic(&mut self, expr: &Expr) -> Template {
        let number = self.keep_node(expr);
        Template::node(vec![text("v"), int(number)])
    }

    fn visit(&mut self, expr: &Expr, root: bool) -> Result<Template, Unsupported> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(Unsupported::TooDeep);
        }
        let result = self.visit_expr(expr, root);
        self.nesting -= 1;
        result
    }

    fn visit_later(&mut self, expr: &Expr) -> Result<Template, Unsupported> {
        self.depth += 1;
        let mut template = self.visit(expr, false)?;
        if template.constant {
            let number = self.keep_node(expr);
            template = Template::node(vec![text("v"), int(number)]);
        }
        self.depth -= 1;
        Ok(template)
    }

    fn visit_expr(&mut self, expr: &Expr, root: bool) -> Result<Template, Unsupported> {
        Ok(match expr {
            Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_) => Template {
                value: TemplateValue::Tuple(vec![text("k"), self.constant(expr)?]),
                constant: true,
            },
            Expr::Name(name) => {
                let id = quote(name.id.as_str())?;
                let number = self.keep_node(expr);
                Template::node(vec![text("n"), int(number), id])
            }
            Expr::Attribute(node) => {
                let base = self.visit(&node.value, false)?;
                let attr = quote(node.attr.as_str())?;
                let number = self.keep_node(expr);
                Template::node(vec![text("a"), int(number), base.value, attr])
            }
            Expr::Subscript(node) => {
                if node.slice.is_slice_expr() {
                    return Ok(self.generic(expr));
                }
                let base = self.visit(&node.value, false)?;
                let index = self.visit(&node.slice, false)?;
                let number = self.keep_node(expr);
                Template::node(vec![text("s"), int(number), base.value, index.value])
            }
            Expr::Call(node) => {
                let func = self.visit(&node.func, false)?;
                let mut parts = Vec::new();
                for arg in &node.arguments.args {
                    match arg {
                        Expr::Starred(starred) => {
                            let part = self.visit(&starred.value, false)?;
                            parts.push(TemplateValue::Tuple(vec![text("*"), part.value]));
                        }
                        // CPython places a call's only, unparenthesized
                        // generator argument at the call's parentheses.
                        // The wrap goes just inside them, so that the
                        // generator starts on the line CPython gives it.
                        Expr::Generator(generator) if !generator.parenthesized => {
                            let parentheses = node.arguments.range;
                            let inside = TextRange::new(
                                parentheses.start() + ruff_text_size::TextSize::from(1),
                                parentheses.end() - ruff_text_size::TextSize::from(1),
                            );
                            let number = self.keep(inside, parentheses);
                            let value = TemplateValue::Tuple(vec![text("v"), int(number)]);
                            parts.push(TemplateValue::Tuple(vec![text(""), value]));
                        }
                        _ => {
                            let part = self.visit(arg, false)?;
                            parts.push(TemplateValue::Tuple(vec![text(""), part.value]));
                        }
                    }
                }
                for keyword in &node.arguments.keywords {
                    let part = self.visit(&keyword.value, false)?;
                    let prefix = match &keyword.arg {
                        None => text("**"),
                        Some(arg) => {
                            quote(arg.as_str())?;
                            TemplateValue::Str(format!("{}=", arg.as_str()))
                        }
                    };
                    parts.push(TemplateValue::Tuple(vec![prefix, part.value]));
                }
                let number = self.keep_node(expr);
                Template::node(vec![
                    text("c"),
                    int(number),
                    func.value,
                    TemplateValue::Tuple(parts),
                ])
            }
            Expr::Compare(node) => {
                let mut operands = vec![self.visit(&node.left, false)?.value];
                for (index, comparator) in node.comparators.iter().enumerate() {
                    let template = if index > 0 {
                        self.visit_later(comparator)?
                    } else {
                        self.visit(comparator, false)?
                    };
                    operands.push(template.value);
                }
                let ops = node.ops.iter().map(|op| text(op.as_str())).collect();
                let number = if root {
                    TemplateValue::None
                } else {
                    int(self.keep_node(expr))
                };
                Template::node(vec![
                    text("cmp"),
                    number,
                    TemplateValue::Tuple(operands),
                    TemplateValue::Tuple(ops),
                ])
            }
            Expr::BoolOp(node) => {
                let mut operands = Vec::new();
                for (index, value) in node.values.iter().enumerate() {
                    let template = if index > 0 {
                        self.visit_later(value)?
                    } else {
                        self.visit(value, false)?
                    };
                    operands.push(template.value);
                }
                let op = match node.op {
                    ast::BoolOp::And => "and",
                    ast::BoolOp::Or => "or",
                };
                let number = if root {
                    TemplateValue::None
                } else {
                    int(self.keep_node(expr))
                };
                Template::node(vec![
                    text("bool"),
                    number,
                    text(op),
                    TemplateValue::Tuple(operands),
                ])
            }
            Expr::UnaryOp(node) => {
                let operand = self.visit(&node.operand, false)?;
                let op = match node.op {
                    ast::UnaryOp::Not => "not",
                    ast::UnaryOp::USub => "-",
                    ast::UnaryOp::UAdd => "+",
                    ast::UnaryOp::Invert => "~",
                };
                let number = self.keep_node(expr);
                Template::node(vec![text("u"), int(number), text(op), operand.value])
            }
            Expr::BinOp(node) => {
                let left = self.visit(&node.left, false)?;
                let right = self.visit(&node.right, false)?;
                let number = self.keep_node(expr);
                Template::node(vec![
                    text("b"),
                    int(number),
                    text(binary(node.op)),
                    left.value,
                    right.value,
                ])
            }
            _ => self.generic(expr),
        })
    }

    /// A literal of the source, as the module's constant of the same text.
    fn constant(&mut self, expr: &Expr) -> Result<TemplateValue, Unsupported> {
        let text = self.literal(expr)?;
        if let Some(value) = plain_literal(&text) {
            return Ok(value);
        }
        Ok(TemplateValue::Constant(self.constants.index_of(text)))
    }

    /// A constant as a Python literal on one line: its own text when that is
    /// on one line, else a literal written from its value.
    fn literal(&self, expr: &Expr) -> Result<String, Unsupported> {
        let range = expr.range();
        let text = &self.source[range.start().to_usize()..range.end().to_usize()];
        if !text.contains(['\n', '\r']) {
            return Ok(text.to_owned());
        }
        match expr {
            Expr::StringLiteral(literal) => {
                let value = literal.value.to_str();
                // U+FFFD may stand for a lone surrogate ruff cannot hold.
                if value.contains('\u{fffd}') {
                    return Err(Unsupported::Constant);
                }
                Ok(string_literal(value))
            }
            Expr::BytesLiteral(literal) => Ok(bytes_literal(literal.value.bytes())),
            _ => Err(Unsupported::Constant),
        }
    }
}

fn binary(op: ast::Operator) -> &'static str {
    use ast::Operator::*;
    match op {
        Add => "+",
        Sub => "-",
        Mult => "*",
        MatMult => "@",
        Div => "/",
        FloorDiv => "//",
        Mod => "%",
        Pow => "**",
        LShift => "<<",
        RShift => ">>",
        BitOr => "|",
        BitXor => "^",
        BitAnd => "&",
    }
}

fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || ('\u{7f}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn bytes_literal(value: impl Iterator<Item = u8>) -> String {
    let mut out = String::from("b'");
    for byte in value {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests;
