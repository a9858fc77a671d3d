//! A parser-independent summary of what a test module defines at the top level.
//! Only `parse.rs` knows the parser; everything else reads these types.

/// A literal value from decorator arguments; anything else is `Other`.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    None,
    List(Vec<Literal>),
    Other,
}

impl Literal {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Literal::Str(s) => Some(s),
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
}

impl Decorator {
    pub fn kwarg(&self, name: &str) -> Option<&Literal> {
        self.kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    pub name: String,
    pub line: u32,
    pub is_async: bool,
    pub decorators: Vec<Decorator>,
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
}

/// A syntax error with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}
