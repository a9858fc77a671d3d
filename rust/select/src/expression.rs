//! The boolean expression language of `-k` and `-m`:
//!
//! ```text
//! expr   := or
//! or     := and ("or" and)*
//! and    := not ("and" not)*
//! not    := "not" not | atom
//! atom   := "(" expr ")" | TERM
//! ```
//!
//! A TERM is a run of characters other than whitespace and parentheses. How a term
//! matches is up to the caller: `-k` matches it against test ids (substring, or glob
//! when it has `*?[`), `-m` against tags (exact).

use globset::{GlobBuilder, GlobMatcher};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid expression `{expression}`: {message} at column {column}")]
pub struct ExpressionError {
    pub expression: String,
    /// 1-based column of the offending token.
    pub column: usize,
    pub message: String,
}

#[derive(Debug, Clone)]
enum Node {
    Term(Term),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
}

#[derive(Debug, Clone)]
struct Term {
    text: String,
    lower: String,
    glob: Option<GlobMatcher>,
}

/// A parsed `-k` / `-m` expression.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Open,
    Close,
    And,
    Or,
    Not,
    Term(&'a str),
    End,
}

fn tokenize(text: &str) -> Vec<(Token<'_>, usize)> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'(' {
            tokens.push((Token::Open, i));
            i += 1;
        } else if c == b')' {
            tokens.push((Token::Close, i));
            i += 1;
        } else {
            let start = i;
            while i < bytes.len()
                && !bytes[i].is_ascii_whitespace()
                && bytes[i] != b'('
                && bytes[i] != b')'
            {
                i += 1;
            }
            let word = &text[start..i];
            let token = match word {
                "and" => Token::And,
                "or" => Token::Or,
                "not" => Token::Not,
                _ => Token::Term(word),
            };
            tokens.push((token, start));
        }
    }
    tokens.push((Token::End, text.len()));
    tokens
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(Token<'a>, usize)>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        &self.tokens[self.pos].0
    }

    fn error(&self, message: &str) -> ExpressionError {
        let offset = self.tokens[self.pos].1;
        ExpressionError {
            expression: self.text.to_string(),
            column: self.text[..offset].chars().count() + 1,
            message: message.to_string(),
        }
    }

    /// The current token, as an error message names it.
    fn found(&self) -> String {
        match self.peek() {
            Token::Open => "`(`".into(),
            Token::Close => "`)`".into(),
            Token::And => "`and`".into(),
            Token::Or => "`or`".into(),
            Token::Not => "`not`".into(),
            Token::Term(t) => format!("`{t}`"),
            Token::End => "end of expression".into(),
        }
    }

    fn or(&mut self) -> Result<Node, ExpressionError> {
        let mut left = self.and()?;
        while *self.peek() == Token::Or {
            self.pos += 1;
            let right = self.and()?;
            left = Node::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, ExpressionError> {
        let mut left = self.not()?;
        while *self.peek() == Token::And {
            self.pos += 1;
            let right = self.not()?;
            left = Node::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Node, ExpressionError> {
        if *self.peek() == Token::Not {
            self.pos += 1;
            return Ok(Node::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Node, ExpressionError> {
        match self.peek().clone() {
            Token::Open => {
                self.pos += 1;
                let inner = self.or()?;
                if *self.peek() != Token::Close {
                    return Err(self.error(&format!("expected `)`, found {}", self.found())));
                }
                self.pos += 1;
                Ok(inner)
            }
            Token::Term(text) => {
                let term = self.term(text)?;
                self.pos += 1;
                Ok(Node::Term(term))
            }
            _ => Err(self.error(&format!(
                "unexpected {}; expected a name or `(`",
                self.found()
            ))),
        }
    }

    fn term(&self, text: &str) -> Result<Term, ExpressionError> {
        let glob = if text.contains(['*', '?', '[']) {
            let pattern = format!("*{text}*");
            let glob = GlobBuilder::new(&pattern)
                .case_insensitive(true)
                .literal_separator(false)
                .build()
                .map_err(|e| self.error(&format!("bad glob: {e}")))?;
            Some(glob.compile_matcher())
        } else {
            None
        };
        Ok(Term {
            text: text.to_string(),
            lower: text.to_lowercase(),
            glob,
        })
    }
}

impl Expression {
    pub fn parse(text: &str) -> Result<Expression, ExpressionError> {
        let mut parser = Parser {
            text,
            tokens: tokenize(text),
            pos: 0,
        };
        if *parser.peek() == Token::End {
            return Err(parser.error("empty expression"));
        }
        let root = parser.or()?;
        if *parser.peek() != Token::End {
            return Err(parser.error(&format!("unexpected {}", parser.found())));
        }
        Ok(Expression {
            source: text.to_string(),
            root,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// `-k` semantics: a term matches when it is a case-insensitive substring of
    /// `id` (or, with glob characters, when the glob matches inside it).
    pub fn matches_id(&self, id: &str) -> bool {
        // Ids are nearly always ASCII: compare without building a lowercase copy
        // of each (selection runs once per collected test).
        let lower = (!id.is_ascii()).then(|| id.to_lowercase());
        eval(&self.root, &|term: &Term| match (&term.glob, &lower) {
            (Some(glob), _) => glob.is_match(id),
            (None, Some(lower)) => lower.contains(&term.lower),
            (None, None) => contains_ignore_ascii_case(id.as_bytes(), term.lower.as_bytes()),
        })
    }

    /// `-m` semantics: a term matches when it equals one of `tags`.
    pub fn matches_tags(&self, tags: &[String]) -> bool {
        eval(&self.root, &|term: &Term| match &term.glob {
            Some(glob) => tags.iter().any(|t| glob.is_match(t)),
            None => tags.contains(&term.text),
        })
    }
}

/// Whether `haystack` (ASCII) contains `needle` (already lowercase), ignoring ASCII case.
fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let Some(last_start) = haystack.len().checked_sub(needle.len()) else {
        return false;
    };
    // Candidates are found by the first byte in either case, a vectorised scan.
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), &haystack[..=last_start])
        .any(|start| haystack[start + 1..start + needle.len()].eq_ignore_ascii_case(rest))
}

fn eval(node: &Node, term_matches: &dyn Fn(&Term) -> bool) -> bool {
    match node {
        Node::Term(term) => term_matches(term),
        Node::Not(inner) => !eval(inner, term_matches),
        Node::And(a, b) => eval(a, term_matches) && eval(b, term_matches),
        Node::Or(a, b) => eval(a, term_matches) || eval(b, term_matches),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(expr: &str, id: &str) -> bool {
        Expression::parse(expr).unwrap().matches_id(id)
    }

    #[test]
    fn keyword_terms_are_case_insensitive_substrings() {
        assert!(k("login", "tests/test_api.py::TestAuth::test_Login"));
        assert!(k(
            "auth and not logout",
            "tests/test_api.py::TestAuth::test_login"
        ));
        assert!(!k(
            "auth and not login",
            "tests/test_api.py::TestAuth::test_login"
        ));
        assert!(k("(a_1 or b_2) and api", "tests/test_api.py::b_2"));
        assert!(k("test_*log?n", "tests/test_api.py::test_login"));
        assert!(k("not not api", "api"));
    }

    #[test]
    fn ascii_ids_match_as_their_lowercase_copies_do() {
        let ids = [
            "tests/test_api.py::TestAuth::test_LOGIN",
            "t.py::x",
            "t.py::Ab",
            "",
            "tests/test_ünï.py::test_Öl",
        ];
        let terms = [
            "login",
            "LOGIN",
            "x",
            "b",
            "ab",
            "t.py::a",
            "test_ö",
            "öl",
            "::test_l",
            "_login",
            "zzz_selects_nothing",
        ];
        for id in ids {
            for term in terms {
                let expected = id.to_lowercase().contains(&term.to_lowercase());
                assert_eq!(k(term, id), expected, "{term} in {id}");
            }
        }
        assert!(contains_ignore_ascii_case(b"abc", b""));
        assert!(!contains_ignore_ascii_case(b"ab", b"abc"));
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        // a or b and c == a or (b and c)
        assert!(k("x or y and z", "x"));
        assert!(!k("(x or y) and z", "x"));
    }

    #[test]
    fn tags_match_exactly() {
        let e = Expression::parse("not slow").unwrap();
        assert!(e.matches_tags(&["fast".into()]));
        assert!(!e.matches_tags(&["slow".into()]));
        assert!(!Expression::parse("slo")
            .unwrap()
            .matches_tags(&["slow".into()]));
    }

    #[test]
    fn errors_point_at_the_column() {
        let err = Expression::parse("a and (b or").unwrap_err();
        assert_eq!(err.column, 12);
        assert!(err.message.contains("end of expression"), "{}", err.message);
        let err = Expression::parse("a b").unwrap_err();
        assert_eq!(err.column, 3);
        let err = Expression::parse("and a").unwrap_err();
        assert_eq!(err.column, 1);
        let err = Expression::parse("(a))").unwrap_err();
        assert_eq!(err.column, 4);
        assert!(Expression::parse("   ").is_err());
        let err = Expression::parse("(a b)").unwrap_err();
        assert!(err.message.contains("expected `)`"), "{}", err.message);
    }
}
