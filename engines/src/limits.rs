//! Size limits every engine enforces, checked once at the API boundary.

use crate::{Error, Result};

/// Shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 1;
/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// Largest value accepted, in bytes (16 MiB). Empty values are allowed.
pub const MAX_VALUE_LEN: usize = 16 << 20;

/// `Ok` when `key` is within `MIN_KEY_LEN..=MAX_KEY_LEN`.
pub fn check_key(key: &[u8]) -> Result<()> {
    if key.len() < MIN_KEY_LEN || key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidInput(format!(
            "key of {} bytes: keys must be {MIN_KEY_LEN} to {MAX_KEY_LEN} bytes",
            key.len()
        )));
    }
    Ok(())
}

/// `Ok` when `value` is at most `MAX_VALUE_LEN` bytes.
pub fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::InvalidInput(format!(
            "value of {} bytes: values must be at most {MAX_VALUE_LEN} bytes (16 MiB)",
            value.len()
        )));
    }
    Ok(())
}

/// Checks a put's key and value.
pub fn check_put(key: &[u8], value: &[u8]) -> Result<()> {
    check_key(key)?;
    check_value(value)
}
