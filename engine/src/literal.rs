//! Integer literals of any width, shared by the two front ends: the digits of a
//! non-negative integer as little-endian 64-bit words, the form in which
//! [`crate::ir::BitsTest`] compares a classical register of any width with a value.

use crate::error::{EngineError, Position, Result};
use crate::limits::MAX_CLBITS;

/// Widest integer literal: no comparison with a register needs more bits than the widest
/// register the engine accepts.
pub(crate) const MAX_INT_BITS: u64 = MAX_CLBITS;

/// The value of `digits` (digits of `radix` only, at least one) as little-endian 64-bit
/// words without trailing zero words (0 is no word at all).
///
/// Errors: a value of more than [`MAX_INT_BITS`] bits, at `pos`: "integer 'DIGITS' is too
/// large (at most 1024 bits)".
pub(crate) fn int_words(digits: &str, radix: u32, pos: Position) -> Result<Vec<u64>> {
    let mut words: Vec<u64> = Vec::new();
    for c in digits.chars() {
        // `digits` holds only digits of `radix`.
        let mut carry = u128::from(c.to_digit(radix).unwrap_or(0));
        for word in &mut words {
            let product = u128::from(*word) * u128::from(radix) + carry;
            *word = product as u64;
            carry = product >> 64;
        }
        if carry > 0 {
            words.push(carry as u64);
        }
        if words.len() as u64 * 64 > MAX_INT_BITS + 64 {
            break;
        }
    }
    let bits = match words.last() {
        Some(top) => (words.len() as u64 - 1) * 64 + u64::from(64 - top.leading_zeros()),
        None => 0,
    };
    if bits > MAX_INT_BITS {
        return Err(EngineError::at(
            pos,
            format!("integer '{digits}' is too large (at most {MAX_INT_BITS} bits)"),
        ));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POS: Position = Position { line: 1, col: 1 };

    #[test]
    fn digits_become_little_endian_words() {
        assert_eq!(int_words("0", 10, POS).unwrap(), Vec::<u64>::new());
        assert_eq!(
            int_words("18446744073709551615", 10, POS).unwrap(),
            vec![u64::MAX]
        );
        // 2^64 and 2^65 + 1
        assert_eq!(
            int_words("18446744073709551616", 10, POS).unwrap(),
            vec![0, 1]
        );
        assert_eq!(
            int_words("36893488147419103233", 10, POS).unwrap(),
            vec![1, 2]
        );
        assert_eq!(int_words("1F", 16, POS).unwrap(), vec![31]);
        let widest = format!("1{}", "0".repeat(1023));
        assert_eq!(int_words(&widest, 2, POS).unwrap().len(), 16);
    }

    #[test]
    fn values_wider_than_any_register_are_refused() {
        let too_wide = format!("1{}", "0".repeat(1024));
        let err = int_words(&too_wide, 2, POS).unwrap_err();
        assert_eq!(err.position, Some(POS));
        assert_eq!(
            err.message,
            format!("integer '{too_wide}' is too large (at most 1024 bits)")
        );
    }
}
