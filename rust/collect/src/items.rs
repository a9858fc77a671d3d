//! Turns a [`ModuleSummary`] into test items, applying the collection rules of
//! pytest (functions, `Test*` classes), unittest (`TestCase` subclasses, whatever
//! their name) and dbtest (`TestSuite` subclasses, `@test`, benchmark groups).

use crate::classes::{class_info, is_fixture, ClassInfo, ClassKind};
use crate::marks::{marks_of, Marks};
use crate::parametrize::{self, Expansion, IdOptions};
use crate::project::{Location, Project};
use crate::resolve::Resolver;
use crate::rules::NameRules;
use crate::summary::{ClassDef, Decorator, FunctionDef, Literal, ModuleSummary};
use dbtest_model::{Kind, StaticMarks, Style, TestFile, TestItem};
use std::collections::HashMap;

/// What an enclosing scope (module, class) passes down to the tests in it.
struct Outer<'a> {
    marks: Marks,
    /// Its `parametrize` marks and its own enclosing scopes', in pytest's order.
    parametrize: Vec<&'a Decorator>,
}

/// Items of one module, plus whether the module may define tests we cannot see.
pub(crate) struct ModuleItems {
    pub items: Vec<TestItem>,
    pub dynamic: bool,
}

pub(crate) fn module_items(
    file_index: usize,
    file: &TestFile,
    summary: &ModuleSummary,
    project: &Project,
) -> ModuleItems {
    let mut builder = Builder {
        file_index,
        file,
        path_kind: Kind::of_path(&file.rel),
        resolver: Resolver::new(summary),
        items: Vec::with_capacity(summary.functions.len()),
        dynamic: summary.dynamic,
        project,
        location: Location {
            path: file.path.clone(),
            import_root: file.import_root.clone(),
        },
        id_options: &project.id_options,
        rules: &project.name_rules,
        top_line: 0,
        top_lines: Vec::new(),
    };
    if summary.test_flag == Some(false) {
        return ModuleItems {
            items: Vec::new(),
            dynamic: false,
        };
    }
    let module = Outer {
        marks: marks_of(&summary.marks, &builder.resolver),
        parametrize: builder.parametrize_marks(&summary.marks),
    };
    if file.is_benchmark {
        builder.benchmarks(summary, &module.marks);
    } else {
        builder.functions(summary, &module);
        builder.classes(summary, &module);
        builder.in_definition_order();
    }
    ModuleItems {
        items: builder.items,
        dynamic: builder.dynamic,
    }
}

struct Builder<'a> {
    file_index: usize,
    file: &'a TestFile,
    /// The kind the file's location gives its tests.
    path_kind: Kind,
    resolver: Resolver<'a>,
    items: Vec<TestItem>,
    dynamic: bool,
    project: &'a Project,
    location: Location,
    id_options: &'a IdOptions,
    rules: &'a NameRules,
    /// The line of the top-level function or class being collected, and of
    /// each item's: items are put in definition order, as pytest collects them.
    top_line: u32,
    top_lines: Vec<u32>,
}

impl Builder<'_> {
    fn push(
        &mut self,
        name: &str,
        class: Option<&str>,
        function: &FunctionDef,
        style: Style,
        marks: Marks,
        class_setup: bool,
    ) {
        let kind = if style == Style::Benchmark {
            Kind::Benchmark
        } else {
            self.path_kind.with_tags(&marks.tags)
        };
        let mut item = TestItem::new(&self.file.rel, name, class, self.file_index, style);
        item.line = function.line;
        item.is_async = function.is_async;
        item.kind = kind;
        item.class_setup = class_setup;
        item.uses_benchmark = function.params.iter().any(|p| p == "benchmark");
        item.set_marks(StaticMarks {
            tags: marks.tags,
            skip: marks.skip,
            timeout: marks.timeout,
        });
        self.items.push(item);
        self.top_lines.push(self.top_line);
    }

    fn functions(&mut self, summary: &ModuleSummary, module: &Outer) {
        for function in &summary.functions {
            if !self.rules.is_test_function(&function.name) || self.is_fixture(function) {
                continue;
            }
            self.top_line = function.line;
            let mut marks = marks_of(&function.decorators, &self.resolver);
            marks.merge(&module.marks);
            let parametrize = self.own_parametrize(function, module);
            self.push_cases(
                &function.name,
                None,
                function,
                Style::Function,
                marks,
                false,
                &parametrize,
            );
        }
    }

    /// Puts functions and classes' tests in the order the module defines them
    /// (they were collected functions first).
    fn in_definition_order(&mut self) {
        if self.top_lines.windows(2).all(|w| w[0] <= w[1]) {
            return;
        }
        let mut keyed: Vec<(u32, TestItem)> =
            self.top_lines.drain(..).zip(self.items.drain(..)).collect();
        keyed.sort_by_key(|(line, _)| *line);
        self.items = keyed.into_iter().map(|(_, item)| item).collect();
    }

    /// Whether a decorator makes `function` a fixture (never a test, whatever its name).
    fn is_fixture(&self, function: &FunctionDef) -> bool {
        is_fixture(function, &self.resolver)
    }

    /// `parametrize` marks among `decorators`, in the order pytest applies them
    /// (the closest decorator first).
    fn parametrize_marks<'d>(&self, decorators: &'d [Decorator]) -> Vec<&'d Decorator> {
        decorators
            .iter()
            .rev()
            .filter(|d| {
                matches!(
                    self.resolver.resolve(&d.path).as_str(),
                    "pytest.mark.parametrize" | "dbtest.mark.parametrize"
                )
            })
            .collect()
    }

    /// A test's `parametrize` marks in pytest's order: its own, then those of
    /// its classes (innermost first) and its module.
    fn own_parametrize<'d>(
        &self,
        function: &'d FunctionDef,
        outer: &Outer<'d>,
    ) -> Vec<&'d Decorator> {
        let mut marks = self.parametrize_marks(&function.decorators);
        marks.extend(outer.parametrize.iter().copied());
        marks
    }

    /// Pushes a test, or one item per case when `parametrize` marks expand
    /// statically; when they cannot, the module is left for the worker to
    /// expand at import.
    #[allow(clippy::too_many_arguments)]
    fn push_cases(
        &mut self,
        name: &str,
        class: Option<&str>,
        function: &FunctionDef,
        style: Style,
        marks: Marks,
        class_setup: bool,
        parametrize: &[&Decorator],
    ) {
        let resolve = |path: &str| self.resolver.resolve(path);
        let expansion = parametrize::expand(
            parametrize.iter().copied(),
            function,
            class.is_some(),
            &resolve,
            self.id_options,
        );
        match expansion {
            Expansion::Plain => self.push(name, class, function, style, marks, class_setup),
            Expansion::AtImport => self.dynamic = true,
            Expansion::Cases(cases) => {
                for case in cases {
                    let mut case_marks = marks_of(&case.marks, &self.resolver);
                    case_marks.merge(&marks);
                    let name = format!("{name}[{}]", case.id);
                    self.push(&name, class, function, style, case_marks, class_setup);
                }
            }
        }
    }

    fn classes(&mut self, summary: &ModuleSummary, module: &Outer) {
        let mut known: HashMap<String, ClassInfo> = HashMap::new();
        let first_class_item = self.items.len();
        let mut test_classes: Vec<&str> = Vec::new();
        let mut coupled = false;
        for class in &summary.classes {
            self.top_line = class.line;
            let info = self.class_info(class, &known);
            let before = self.items.len();
            self.class_items(class, &info, &[], module);
            if self.items.len() > before {
                coupled |= class
                    .bases
                    .iter()
                    .any(|b| test_classes.contains(&b.as_str()));
                test_classes.push(&class.name);
            }
            known.insert(class.name.clone(), info);
        }
        if coupled {
            for item in &mut self.items[first_class_item..] {
                item.coupled_classes = true;
            }
        }
    }

    fn class_info(&self, class: &ClassDef, known: &HashMap<String, ClassInfo>) -> ClassInfo {
        class_info(
            class,
            known,
            &self.resolver,
            self.project,
            &self.location,
            0,
        )
    }

    fn class_items(
        &mut self,
        class: &ClassDef,
        info: &ClassInfo,
        outer: &[&str],
        inherited: &Outer,
    ) {
        let kind = info.kind(class, self.rules);
        let has_test_methods = info
            .methods
            .iter()
            .any(|m| m.name.starts_with("test") || self.rules.is_test_function(&m.name));
        if kind == ClassKind::NotTest {
            // A class whose base lives in another module may still be a TestCase there.
            if info.unknown_base && has_test_methods && info.test_flag != Some(false) {
                self.dynamic = true;
            }
            return;
        }
        if info.unknown_base {
            self.dynamic = true;
        }
        let mut class_marks = marks_of(&class.decorators, &self.resolver);
        class_marks.merge(&marks_of(&class.marks, &self.resolver));
        class_marks.merge(&inherited.marks);
        // pytest keeps a class's marks as its `pytestmark` body list, then its
        // decorators from the closest; the enclosing scopes' come after.
        let mut class_parametrize = self.parametrize_marks(&class.marks);
        class_parametrize.reverse();
        class_parametrize.extend(self.parametrize_marks(&class.decorators));
        class_parametrize.extend(inherited.parametrize.iter().copied());
        let scope = Outer {
            marks: class_marks,
            parametrize: class_parametrize,
        };

        let mut path: Vec<&str> = outer.to_vec();
        path.push(&class.name);
        let qualname = path.join("::");
        let style = match kind {
            ClassKind::TestCase => Style::TestCase,
            ClassKind::Suite => Style::Suite,
            _ => Style::PlainClass,
        };
        let mut methods: Vec<(&FunctionDef, Marks)> = info
            .methods
            .iter()
            .map(|m| (m, marks_of(&m.decorators, &self.resolver)))
            .filter(|(m, marks)| match kind {
                ClassKind::Suite => marks.dbtest_test || m.name.starts_with("test"),
                // unittest's loader decides a TestCase's tests by its own prefix.
                ClassKind::TestCase => m.name.starts_with("test"),
                _ => self.rules.is_test_function(&m.name) && !self.is_fixture(m),
            })
            .collect();
        if kind == ClassKind::TestCase {
            // unittest's loader orders test methods by name.
            methods.sort_by(|a, b| a.0.name.cmp(&b.0.name));
            // A TestCase without test* methods but with `runTest` is that one test
            // (unittest's loader and pytest agree).
            if methods.is_empty() && !info.unknown_base {
                if let Some(run_test) = info.methods.iter().find(|m| m.name == "runTest") {
                    methods.push((run_test, marks_of(&run_test.decorators, &self.resolver)));
                }
            }
        }
        let class_setup = info.has_class_setup(&self.resolver);
        for (method, mut marks) in methods {
            marks.merge(&scope.marks);
            let name = format!("{qualname}::{}", method.name);
            // pytest runs unittest's and dbtest's own methods as they are.
            let parametrize = match kind {
                ClassKind::Plain => self.own_parametrize(method, &scope),
                _ => Vec::new(),
            };
            self.push_cases(
                &name,
                Some(&qualname),
                method,
                style,
                marks,
                class_setup,
                &parametrize,
            );
        }
        if kind == ClassKind::Plain {
            for nested in &class.nested {
                let nested_info = self.class_info(nested, &HashMap::new());
                self.class_items(nested, &nested_info, &path, &scope);
            }
        }
    }

    /// The benchmark members `names` of `group`, defined by `function`.
    fn members(&mut self, group: &str, names: &[String], function: &FunctionDef, marks: &Marks) {
        for member in names {
            let name = format!("{group}::{member}");
            self.push(
                &name,
                Some(group),
                function,
                Style::Benchmark,
                marks.clone(),
                false,
            );
        }
    }

    fn benchmarks(&mut self, summary: &ModuleSummary, module_marks: &Marks) {
        let groups: HashMap<&str, String> = summary
            .call_assignments
            .iter()
            .filter(|a| {
                matches!(
                    self.resolver.resolve(&a.callee).as_str(),
                    "dbtest.BenchmarkGroup" | "dbtest.bench.BenchmarkGroup"
                )
            })
            .map(|a| {
                let name = a
                    .args
                    .first()
                    .or_else(|| a.kwargs.iter().find(|(k, _)| k == "name").map(|(_, v)| v))
                    .and_then(Literal::as_str)
                    .unwrap_or(&a.target)
                    .to_string();
                (a.target.as_str(), name)
            })
            .collect();
        let is_decorator = |path: &str| {
            matches!(
                self.resolver.resolve(path).as_str(),
                "dbtest.benchmark_decorator" | "dbtest.bench.benchmark_decorator"
            )
        };
        // (function, decorator) → (group, member names) for `@benchmark_decorator`.
        let decorated: HashMap<(usize, usize), (String, Vec<String>)> = summary
            .functions
            .iter()
            .enumerate()
            .flat_map(|(f, function)| {
                function
                    .decorators
                    .iter()
                    .enumerate()
                    .filter_map(move |(d, deco)| {
                        crate::benchparams::decorated_members(deco, &function.name, is_decorator)
                            .map(|found| ((f, d), found))
                    })
            })
            .collect();
        for (f, function) in summary.functions.iter().enumerate() {
            for (d, deco) in function.decorators.iter().enumerate() {
                if let Some((group, names)) = decorated.get(&(f, d)) {
                    self.members(group, names, function, module_marks);
                    continue;
                }
                let Some((group_var, "add")) = deco.path.rsplit_once('.') else {
                    continue;
                };
                let Some(group) = groups.get(group_var) else {
                    continue;
                };
                let member = deco
                    .args
                    .first()
                    .or_else(|| deco.kwarg("name"))
                    .and_then(Literal::as_str)
                    .unwrap_or(&function.name)
                    .to_string();
                let names = crate::benchparams::member_names(&member, deco.kwarg("params"))
                    .unwrap_or_else(|| vec![member.clone()]);
                self.members(group, &names, function, module_marks);
            }
        }
    }
}
