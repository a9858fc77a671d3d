//! Exit codes (pytest's convention), defined here once: the Python shim reads
//! them from the native module (`dbtest._core.EXIT_*`, see `dbtest/cli.py`).

pub const OK: i32 = 0;
pub const TESTS_FAILED: i32 = 1;
pub const INTERRUPTED: i32 = 2;
pub const INTERNAL_ERROR: i32 = 3;
pub const USAGE_ERROR: i32 = 4;
pub const NO_TESTS: i32 = 5;

/// Every code by name, as the native module exports them (`EXIT_<name>`).
pub const ALL: [(&str, i32); 6] = [
    ("OK", OK),
    ("TESTS_FAILED", TESTS_FAILED),
    ("INTERRUPTED", INTERRUPTED),
    ("INTERNAL_ERROR", INTERNAL_ERROR),
    ("USAGE_ERROR", USAGE_ERROR),
    ("NO_TESTS", NO_TESTS),
];
