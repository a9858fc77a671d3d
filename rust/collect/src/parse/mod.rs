//! The one module that knows the Python parser (ruff's). It reduces a module's
//! AST to a [`ModuleSummary`] (and, in `imports.rs`, to its [`ImportScan`]);
//! swapping parsers means rewriting only this module.

mod imports;

use crate::summary::*;
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_source_file::LineIndex;
use ruff_text_size::{Ranged, TextSize};

/// Parses `source` and summarises its top level.
pub fn summarize(source: &str) -> Result<ModuleSummary, SyntaxError> {
    summarize_with(source, false)
}

/// Parses `source` and summarises its top level, and with `scan_imports` every
/// import it makes anywhere ([`ModuleSummary::import_scan`]), from the same parse.
pub fn summarize_with(source: &str, scan_imports: bool) -> Result<ModuleSummary, SyntaxError> {
    let index = LineIndex::from_source_text(source);
    let parsed = parse(source, &index)?;
    let mut walker = Walker {
        index: &index,
        summary: ModuleSummary::default(),
    };
    walker.module(&parsed.syntax().body);
    if scan_imports {
        walker.summary.import_scan = Some(imports::scan(&parsed.syntax().body, &index));
    }
    Ok(walker.summary)
}

/// Every import `source` makes, wherever it is written (for modules that hold
/// no tests: the import graph needs nothing else of them).
pub fn scan_imports(source: &str) -> Result<ImportScan, SyntaxError> {
    let index = LineIndex::from_source_text(source);
    let parsed = parse(source, &index)?;
    Ok(imports::scan(&parsed.syntax().body, &index))
}

fn parse(
    source: &str,
    index: &LineIndex,
) -> Result<ruff_python_parser::Parsed<ast::ModModule>, SyntaxError> {
    ruff_python_parser::parse_module(source).map_err(|err| {
        let location = index.line_column(err.location.start(), source);
        SyntaxError {
            line: location.line.get() as u32,
            column: location.column.get() as u32,
            message: err.error.to_string(),
        }
    })
}

struct Walker<'a> {
    index: &'a LineIndex,
    summary: ModuleSummary,
}

fn defines_anything(body: &[Stmt]) -> bool {
    body.iter().any(|stmt| match stmt {
        Stmt::FunctionDef(_) | Stmt::ClassDef(_) => true,
        Stmt::If(s) => {
            defines_anything(&s.body)
                || s.elif_else_clauses
                    .iter()
                    .any(|c| defines_anything(&c.body))
        }
        Stmt::Try(s) => {
            defines_anything(&s.body)
                || defines_anything(&s.orelse)
                || defines_anything(&s.finalbody)
                || s.handlers.iter().any(|h| match h {
                    ast::ExceptHandler::ExceptHandler(h) => defines_anything(&h.body),
                })
        }
        Stmt::With(s) => defines_anything(&s.body),
        Stmt::Assign(s) => s
            .targets
            .iter()
            .any(|t| matches!(t, Expr::Name(n) if n.id.starts_with("Test"))),
        _ => false,
    })
}

/// Whether importing `name` from `module` may put a collectable test into this
/// module's namespace (collectors pick up imported test classes and functions).
fn may_import_a_test(module: &str, name: &str) -> bool {
    let framework = matches!(
        module.split('.').next().unwrap_or(module),
        "unittest" | "dbtest" | "pytest" | "_pytest" | "typing" | "hypothesis"
    );
    !framework && (name.contains("Test") || name.contains("Case") || name.starts_with("test"))
}

impl Walker<'_> {
    fn line(&self, offset: TextSize) -> u32 {
        self.index.line_index(offset).get() as u32
    }

    fn module(&mut self, body: &[Stmt]) {
        for stmt in body {
            self.top_level(stmt);
        }
    }

    fn top_level(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Import(s) => {
                for alias in &s.names {
                    let full = alias.name.as_str().to_string();
                    let local = match &alias.asname {
                        Some(asname) => asname.as_str().to_string(),
                        None => full.split('.').next().unwrap_or_default().to_string(),
                    };
                    let target = if alias.asname.is_some() {
                        full.clone()
                    } else {
                        local.clone()
                    };
                    self.summary.imports.push((local, target));
                    self.summary.imported_modules.push(full);
                }
            }
            Stmt::ImportFrom(s) => {
                let mut module = ".".repeat(s.level as usize);
                if let Some(name) = &s.module {
                    module.push_str(name.as_str());
                }
                self.summary.imported_modules.push(module.clone());
                for alias in &s.names {
                    let name = alias.name.as_str();
                    if name == "*" {
                        self.summary.dynamic = true;
                        continue;
                    }
                    let local = alias.asname.as_ref().map_or(name, |a| a.as_str());
                    if may_import_a_test(&module, local) {
                        self.summary.dynamic = true;
                    }
                    let qualified = if module.ends_with('.') || module.is_empty() {
                        format!("{module}{name}")
                    } else {
                        format!("{module}.{name}")
                    };
                    self.summary.imports.push((local.to_string(), qualified));
                }
            }
            Stmt::FunctionDef(f) => {
                let function = self.function(f);
                self.summary.functions.push(function);
            }
            Stmt::ClassDef(c) => {
                let class = self.class(c);
                self.summary.classes.push(class);
            }
            Stmt::Assign(s) => self.assignment(&s.targets, &s.value),
            Stmt::AnnAssign(s) => {
                if let Some(value) = &s.value {
                    self.assignment(std::slice::from_ref(&*s.target), value);
                }
            }
            Stmt::For(_) | Stmt::While(_) => self.summary.dynamic = true,
            // `try: import x except ImportError: x = None` is everywhere; only
            // definitions inside a block make the module's test list uncertain.
            Stmt::If(_) | Stmt::Try(_) | Stmt::With(_) => {
                self.summary.dynamic |= defines_anything(std::slice::from_ref(stmt));
            }
            Stmt::Expr(s) => {
                if let Expr::Call(call) = &*s.value {
                    let callee = dotted(&call.func);
                    if callee == "setattr" || callee.starts_with("globals") {
                        self.summary.dynamic = true;
                    }
                }
            }
            _ => {}
        }
    }

    fn assignment(&mut self, targets: &[Expr], value: &Expr) {
        for target in targets {
            match target {
                Expr::Name(name) if name.id.as_str() == "__test__" => {
                    self.summary.test_flag = literal(value).as_bool();
                }
                Expr::Name(name) if name.id.as_str() == "pytestmark" => {
                    self.summary.marks = marks_of(value);
                }
                Expr::Name(name) => {
                    if let Expr::Call(call) = value {
                        let callee = dotted(&call.func);
                        if name.id.starts_with("Test") || callee == "type" {
                            self.summary.dynamic = true;
                        }
                        self.summary.call_assignments.push(CallAssignment {
                            target: name.id.to_string(),
                            callee,
                            args: call.arguments.args.iter().map(literal).collect(),
                            kwargs: keywords(&call.arguments.keywords),
                        });
                    }
                }
                Expr::Subscript(sub) => {
                    if let Expr::Call(call) = &*sub.value {
                        if matches!(dotted(&call.func).as_str(), "globals" | "vars" | "locals") {
                            self.summary.dynamic = true;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn function(&self, f: &ast::StmtFunctionDef) -> FunctionDef {
        let parameters = &f.parameters;
        FunctionDef {
            name: f.name.as_str().to_string(),
            line: self.line(f.name.start()),
            is_async: f.is_async,
            decorators: f
                .decorator_list
                .iter()
                .map(|d| decorator(&d.expression))
                .collect(),
            params: parameters
                .args
                .iter()
                .chain(&parameters.kwonlyargs)
                .filter(|p| p.default.is_none())
                .map(|p| p.parameter.name.as_str().to_string())
                .collect(),
            takes_kwargs: parameters.kwarg.is_some(),
        }
    }

    fn class(&self, c: &ast::StmtClassDef) -> ClassDef {
        let mut class = ClassDef {
            name: c.name.as_str().to_string(),
            line: self.line(c.name.start()),
            bases: c
                .arguments
                .as_ref()
                .map(|a| a.args.iter().map(dotted).collect())
                .unwrap_or_default(),
            decorators: c
                .decorator_list
                .iter()
                .map(|d| decorator(&d.expression))
                .collect(),
            methods: Vec::new(),
            nested: Vec::new(),
            has_init: false,
            test_flag: None,
            marks: Vec::new(),
        };
        for stmt in &c.body {
            match stmt {
                Stmt::FunctionDef(f) => {
                    if f.name.as_str() == "__init__" {
                        class.has_init = true;
                    }
                    class.methods.push(self.function(f));
                }
                Stmt::ClassDef(inner) => class.nested.push(self.class(inner)),
                Stmt::Assign(s) => {
                    for target in &s.targets {
                        if let Expr::Name(name) = target {
                            match name.id.as_str() {
                                "__test__" => class.test_flag = literal(&s.value).as_bool(),
                                "pytestmark" => class.marks = marks_of(&s.value),
                                _ => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        class
    }
}

/// `a.b.c` for names and attribute chains, `""` otherwise. Calls are looked through
/// (`a.b(...)` gives `a.b`), subscripts too (`Generic[T]` gives `Generic`).
pub(crate) fn dotted(expr: &Expr) -> String {
    match expr {
        Expr::Name(n) => n.id.to_string(),
        Expr::Attribute(a) => {
            let base = dotted(&a.value);
            if base.is_empty() {
                String::new()
            } else {
                format!("{base}.{}", a.attr.as_str())
            }
        }
        Expr::Call(c) => dotted(&c.func),
        Expr::Subscript(s) => dotted(&s.value),
        _ => String::new(),
    }
}

fn literal(expr: &Expr) -> Literal {
    match expr {
        Expr::StringLiteral(s) => Literal::Str(s.value.to_str().to_string()),
        Expr::BytesLiteral(b) => Literal::Bytes(b.value.bytes().collect()),
        Expr::NumberLiteral(n) => number(&n.value, false),
        Expr::UnaryOp(u) if u.op == ast::UnaryOp::USub => match &*u.operand {
            Expr::NumberLiteral(n) => number(&n.value, true),
            _ => Literal::Other,
        },
        Expr::BooleanLiteral(b) => Literal::Bool(b.value),
        Expr::NoneLiteral(_) => Literal::None,
        Expr::List(l) => Literal::List(l.elts.iter().map(literal).collect()),
        Expr::Tuple(t) => Literal::Tuple(t.elts.iter().map(literal).collect()),
        Expr::Set(s) => Literal::Set(s.elts.iter().map(literal).collect()),
        Expr::Dict(d) => Literal::Dict(
            d.items
                .iter()
                .map(|item| match &item.key {
                    Some(key) => (literal(key), literal(&item.value)),
                    // `**other`: not a literal dict.
                    None => (Literal::Other, Literal::Other),
                })
                .collect(),
        ),
        Expr::Name(_) | Expr::Attribute(_) => match dotted(expr) {
            path if path.is_empty() => Literal::Other,
            path => Literal::Name(path),
        },
        Expr::Call(call) => match dotted(&call.func) {
            path if path.is_empty()
                || !matches!(&*call.func, Expr::Name(_) | Expr::Attribute(_)) =>
            {
                Literal::Other
            }
            path => Literal::Call(Box::new(Call {
                path,
                args: call.arguments.args.iter().map(literal).collect(),
                kwargs: keywords(&call.arguments.keywords),
                unpacks: unpacks(&call.arguments),
            })),
        },
        _ => Literal::Other,
    }
}

/// A number literal, negated when written with a unary minus (`-3`, `-0.0`).
/// Complex numbers are left to an import (`-1j` is `(-0-1j)` in Python).
fn number(value: &ast::Number, negative: bool) -> Literal {
    match value {
        ast::Number::Int(i) => {
            let magnitude = match i.as_u64() {
                Some(small) => Some(i128::from(small)),
                // Beyond u64 ruff keeps the token as written (`0x...`, `1_000...`).
                None => big_int(&i.to_string()),
            };
            match magnitude {
                Some(m) => Literal::Int(if negative { -m } else { m }),
                None => {
                    let text = i.to_string().replace('_', "");
                    if text.bytes().all(|b| b.is_ascii_digit()) {
                        let text = text.trim_start_matches('0');
                        Literal::BigInt(if negative {
                            format!("-{text}")
                        } else {
                            text.into()
                        })
                    } else {
                        Literal::Other
                    }
                }
            }
        }
        ast::Number::Float(f) => Literal::Float(if negative { -*f } else { *f }),
        ast::Number::Complex { .. } => Literal::Other,
    }
}

/// An integer token too big for `u64` that still fits `i128`, in any base.
fn big_int(token: &str) -> Option<i128> {
    let token = token.replace('_', "");
    let lower = token.to_ascii_lowercase();
    let (digits, radix) = match lower.get(..2) {
        Some("0x") => (&lower[2..], 16),
        Some("0o") => (&lower[2..], 8),
        Some("0b") => (&lower[2..], 2),
        _ => (lower.as_str(), 10),
    };
    i128::from_str_radix(digits, radix).ok()
}

fn unpacks(arguments: &ast::Arguments) -> bool {
    arguments.args.iter().any(|a| matches!(a, Expr::Starred(_)))
        || arguments.keywords.iter().any(|k| k.arg.is_none())
}

fn keywords(keywords: &[ast::Keyword]) -> Vec<(String, Literal)> {
    keywords
        .iter()
        .filter_map(|k| {
            k.arg
                .as_ref()
                .map(|a| (a.as_str().to_string(), literal(&k.value)))
        })
        .collect()
}

fn decorator(expr: &Expr) -> Decorator {
    match expr {
        Expr::Call(call) => Decorator {
            path: dotted(&call.func),
            called: true,
            args: call.arguments.args.iter().map(literal).collect(),
            kwargs: keywords(&call.arguments.keywords),
            unpacks: unpacks(&call.arguments),
            receiver: match &*call.func {
                Expr::Attribute(a) if matches!(&*a.value, Expr::Call(_)) => {
                    Some(Box::new(decorator(&a.value)))
                }
                _ => None,
            },
        },
        other => Decorator {
            path: dotted(other),
            called: false,
            args: Vec::new(),
            kwargs: Vec::new(),
            unpacks: false,
            receiver: None,
        },
    }
}

/// `pytestmark = pytest.mark.x` or `= [pytest.mark.x, pytest.mark.y(...)]`.
fn marks_of(value: &Expr) -> Vec<Decorator> {
    match value {
        Expr::List(l) => l.elts.iter().map(decorator).collect(),
        Expr::Tuple(t) => t.elts.iter().map(decorator).collect(),
        other => vec![decorator(other)],
    }
}
