//! A parser-independent summary of what a test module defines at the top level.
//! Only `parse.rs` knows the parser; everything else reads these types.

/// A value from decorator arguments, kept as written so that pytest's ids can
/// be produced from it without importing anything (`1` is not `1.0`, a tuple
/// is not a list). What is not a literal keeps only its shape: a dotted name,
/// a call of one, or `Other`.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Bytes(Vec<u8>),
    Int(i128),
    /// An integer beyond `i128`, in decimal.
    BigInt(String),
    Float(f64),
    Bool(bool),
    None,
    List(Vec<Literal>),
    Tuple(Vec<Literal>),
    Set(Vec<Literal>),
    /// `{key: value, ...}` (an `**other` entry is a pair of `Other`).
    Dict(Vec<(Literal, Literal)>),
    /// A name or attribute chain (`CASES`, `pytest.mark.slow`): a value only an
    /// import can tell.
    Name(String),
    /// A call of a dotted name (`pytest.param(1, id="one")`, `pytest.mark.skip(...)`).
    Call(Box<Call>),
    Other,
}

/// `a.b(args, key=value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub path: String,
    pub args: Vec<Literal>,
    pub kwargs: Vec<(String, Literal)>,
    /// `*args` or `**kwargs` in the call: its arguments are not all known.
    pub unpacks: bool,
}

impl Literal {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Literal::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A number as seconds, for timeouts.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Literal::Int(i) => Some(*i as f64),
            Literal::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The elements of a list or tuple literal.
    pub fn as_sequence(&self) -> Option<&[Literal]> {
        match self {
            Literal::List(items) | Literal::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// Python's truth value, when the literal has one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Literal::Bool(b) => Some(*b),
            Literal::Int(i) => Some(*i != 0),
            Literal::Float(f) => Some(*f != 0.0),
            Literal::Str(s) => Some(!s.is_empty()),
            Literal::None => Some(false),
            _ => None,
        }
    }
}

/// A decorator as written: `@a.b`, `@a.b(...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decorator {
    /// Dotted name as written (`pytest.mark.skip`); empty if not a plain name/attribute chain.
    pub path: String,
    pub called: bool,
    pub args: Vec<Literal>,
    pub kwargs: Vec<(String, Literal)>,
    /// `*args` or `**kwargs` among the arguments: they are not all known.
    pub unpacks: bool,
    /// A method called on a call (`@make(a=1).method(b)`): the inner call.
    pub receiver: Option<Box<Decorator>>,
}

impl Decorator {
    pub fn kwarg(&self, name: &str) -> Option<&Literal> {
        self.kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// A mark written as a value (`marks=pytest.mark.skip`,
    /// `marks=pytest.mark.xfail(reason="...")`), as if it decorated something.
    pub fn from_literal(value: &Literal) -> Option<Decorator> {
        match value {
            Literal::Name(path) => Some(Decorator {
                path: path.clone(),
                called: false,
                args: Vec::new(),
                kwargs: Vec::new(),
                unpacks: false,
                receiver: None,
            }),
            Literal::Call(call) => Some(Decorator {
                path: call.path.clone(),
                called: true,
                args: call.args.clone(),
                kwargs: call.kwargs.clone(),
                unpacks: call.unpacks,
                receiver: None,
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    pub name: String,
    pub line: u32,
    pub is_async: bool,
    pub decorators: Vec<Decorator>,
    /// Parameters without a default that can be passed by keyword, in order
    /// (`self` included): what pytest fills from `parametrize` and fixtures.
    pub params: Vec<String>,
    /// Takes `**kwargs`.
    pub takes_kwargs: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassDef {
    pub name: String,
    pub line: u32,
    /// Dotted base names as written; `""` for a base that is not a name or attribute.
    pub bases: Vec<String>,
    pub decorators: Vec<Decorator>,
    pub methods: Vec<FunctionDef>,
    pub nested: Vec<ClassDef>,
    pub has_init: bool,
    /// `__test__ = True/False` in the class body.
    pub test_flag: Option<bool>,
    /// `pytestmark = ...` in the class body.
    pub marks: Vec<Decorator>,
}

/// `name = SomeCall("literal", ...)` at module level (benchmark groups).
#[derive(Debug, Clone, PartialEq)]
pub struct CallAssignment {
    pub target: String,
    pub callee: String,
    pub args: Vec<Literal>,
    pub kwargs: Vec<(String, Literal)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModuleSummary {
    /// Local name → fully qualified name it was imported as
    /// (`TC` → `unittest.TestCase`, `unittest` → `unittest`).
    pub imports: Vec<(String, String)>,
    /// Modules imported anywhere at top level, as written (relative ones keep their dots).
    pub imported_modules: Vec<String>,
    pub functions: Vec<FunctionDef>,
    pub classes: Vec<ClassDef>,
    pub call_assignments: Vec<CallAssignment>,
    /// `__test__ = False` at module level.
    pub test_flag: Option<bool>,
    /// Module-level `pytestmark`.
    pub marks: Vec<Decorator>,
    /// Top-level code that may define tests the static pass cannot see
    /// (loops, star imports, imported test classes, `globals()` writes...).
    pub dynamic: bool,
    /// Every import, wherever written: only when asked for (`--changed`).
    pub import_scan: Option<ImportScan>,
}

/// A syntax error with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// One import as written: `import a.b` (`module` `a.b`), `from ..a import b, c`
/// (`level` 2, `module` `a`, `names` `[b, c]`), `from . import x` (`module` empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRef {
    /// Leading dots of a relative import; 0 for an absolute one.
    pub level: u32,
    pub module: String,
    /// The names of a `from` import (each may be a submodule); empty otherwise.
    pub names: Vec<String>,
    pub line: u32,
}

/// Every import of a module, top level or not (functions, `TYPE_CHECKING`
/// blocks, literal `importlib.import_module` calls).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportScan {
    pub imports: Vec<ImportRef>,
    /// Line of the first `importlib.import_module(name)` or `__import__(name)`
    /// whose name is not a literal: what it loads is unknown.
    pub dynamic_import: Option<u32>,
}
