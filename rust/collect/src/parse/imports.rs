//! Every import of a module, wherever it is written: at top level, inside
//! functions and classes, under `if TYPE_CHECKING:`, in `try` blocks, and
//! `importlib.import_module("literal")` / `__import__("literal")` calls. A call
//! whose name is not a literal is recorded as a dynamic import: what it loads
//! cannot be known without running it. Part of the parser module: only here
//! and in `mod.rs` is ruff's AST known.

use crate::summary::{ImportRef, ImportScan};
use ruff_python_ast::visitor::{walk_expr, walk_stmt, Visitor};
use ruff_python_ast::{Expr, Stmt};
use ruff_source_file::LineIndex;
use ruff_text_size::{Ranged, TextSize};

/// The imports of a parsed module's body.
pub(crate) fn scan(body: &[Stmt], index: &LineIndex) -> ImportScan {
    let mut scanner = Scanner {
        index,
        scan: ImportScan::default(),
    };
    for stmt in body {
        scanner.visit_stmt(stmt);
    }
    scanner.scan
}

struct Scanner<'i> {
    index: &'i LineIndex,
    scan: ImportScan,
}

impl Scanner<'_> {
    fn line(&self, offset: TextSize) -> u32 {
        self.index.line_index(offset).get() as u32
    }

    /// `importlib.import_module(...)`, `import_module(...)` or `__import__(...)`.
    fn dynamic_call(&mut self, call: &ruff_python_ast::ExprCall) {
        let callee = super::dotted(&call.func);
        let is_import = matches!(
            callee.as_str(),
            "importlib.import_module" | "import_module" | "__import__"
        );
        if !is_import {
            return;
        }
        let line = self.line(call.start());
        let literal = call.arguments.args.first().and_then(|arg| match arg {
            Expr::StringLiteral(s) => Some(s.value.to_str().to_string()),
            _ => None,
        });
        let package_given = call
            .arguments
            .keywords
            .iter()
            .any(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "package"))
            || call.arguments.args.len() > 1 && callee != "__import__";
        match literal {
            // `import_module(".x", package=...)`: relative to a package only
            // known at run time.
            Some(name) if !name.starts_with('.') || !package_given => {
                let level = name.chars().take_while(|c| *c == '.').count() as u32;
                self.scan.imports.push(ImportRef {
                    level,
                    module: name.trim_start_matches('.').to_string(),
                    names: Vec::new(),
                    line,
                });
            }
            _ => {
                self.scan.dynamic_import.get_or_insert(line);
            }
        }
    }
}

impl<'a> Visitor<'a> for Scanner<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(s) => {
                let line = self.line(s.start());
                for alias in &s.names {
                    self.scan.imports.push(ImportRef {
                        level: 0,
                        module: alias.name.as_str().to_string(),
                        names: Vec::new(),
                        line,
                    });
                }
            }
            Stmt::ImportFrom(s) => {
                let line = self.line(s.start());
                self.scan.imports.push(ImportRef {
                    level: s.level,
                    module: s
                        .module
                        .as_ref()
                        .map_or_else(String::new, |m| m.as_str().to_string()),
                    names: s
                        .names
                        .iter()
                        .map(|a| a.name.as_str())
                        .filter(|n| *n != "*")
                        .map(str::to_string)
                        .collect(),
                    line,
                });
            }
            _ => walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Call(call) = expr {
            self.dynamic_call(call);
        }
        walk_expr(self, expr);
    }
}
