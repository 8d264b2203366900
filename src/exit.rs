//! Exit codes of every command: 0 every expectation held, 1 an expectation failed, 2 a usage or
//! infrastructure error.

/// Exit code: every expectation held.
pub const EXIT_OK: u8 = 0;
/// Exit code: an expectation failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: usage or infrastructure error.
pub const EXIT_ERROR: u8 = 2;
