//! Exit codes (pytest's convention).

pub const OK: i32 = 0;
pub const TESTS_FAILED: i32 = 1;
pub const INTERRUPTED: i32 = 2;
pub const INTERNAL_ERROR: i32 = 3;
pub const USAGE_ERROR: i32 = 4;
pub const NO_TESTS: i32 = 5;
