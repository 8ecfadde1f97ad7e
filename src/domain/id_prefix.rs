//! A run id, or the start of one, as an operator types it to find a run (`/admin/runs`'s
//! search, issue 32): hex digits, with or without the dashes.

use uuid::Uuid;

/// The leading hex digits of an id: 1 to 32 of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPrefix {
    /// Lower-case hex digits, no dashes.
    digits: String,
}

/// Why a search is no id prefix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a run id or its first hex digits (0–9, a–f; dashes allowed), at most 32 digits")]
pub struct InvalidIdPrefix;

impl IdPrefix {
    /// `text` trimmed, dashes dropped: 1 to 32 hex digits, either case.
    pub fn parse(text: &str) -> Result<IdPrefix, InvalidIdPrefix> {
        let digits: String = text
            .trim()
            .chars()
            .filter(|&c| c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if (1..=32).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(IdPrefix { digits })
        } else {
            Err(InvalidIdPrefix)
        }
    }

    /// The whole id, when every digit was given.
    pub fn exact(&self) -> Option<Uuid> {
        (self.digits.len() == 32)
            .then(|| Uuid::try_parse(&self.digits).ok())
            .flatten()
    }

    /// The smallest and largest ids that start so (inclusive): the prefix filled with `0`s
    /// and with `f`s. Ids compare bytewise, which is their hex order, so the ids with this
    /// prefix are exactly this range.
    pub fn range(&self) -> (Uuid, Uuid) {
        let fill = |digit: char| {
            let mut text = self.digits.clone();
            text.extend(std::iter::repeat_n(digit, 32 - self.digits.len()));
            Uuid::try_parse(&text).expect("32 hex digits are an id")
        };
        (fill('0'), fill('f'))
    }

    /// The digits, lower case, no dashes.
    pub fn as_str(&self) -> &str {
        &self.digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_the_range_of_ids_that_start_so() {
        let prefix = IdPrefix::parse(" 01A2-25 ").unwrap();
        assert_eq!(prefix.as_str(), "01a225");
        assert_eq!(prefix.exact(), None);
        let (low, high) = prefix.range();
        assert_eq!(low.to_string(), "01a22500-0000-0000-0000-000000000000");
        assert_eq!(high.to_string(), "01a225ff-ffff-ffff-ffff-ffffffffffff");
        let id = Uuid::now_v7();
        let whole = IdPrefix::parse(&id.to_string()).unwrap();
        assert_eq!(whole.exact(), Some(id));
        assert_eq!(whole.range(), (id, id));
        assert_eq!(
            IdPrefix::parse(&id.simple().to_string().to_uppercase())
                .unwrap()
                .exact(),
            Some(id)
        );
        for bad in ["", " ", "-", "01g2", "0x01", &"a".repeat(33), "01 a2"] {
            assert_eq!(IdPrefix::parse(bad), Err(InvalidIdPrefix), "{bad:?}");
        }
    }

    #[test]
    fn ids_order_bytewise_as_their_hex() {
        let mut ids: Vec<Uuid> = (0..64).map(|_| Uuid::new_v4()).collect();
        let mut by_text = ids.clone();
        ids.sort_by_key(|id| *id.as_bytes());
        by_text.sort_by_key(|id| id.simple().to_string());
        assert_eq!(ids, by_text);
    }
}
