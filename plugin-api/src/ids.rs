//! Identifier newtypes, and the characters no id or name may hold.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident($inner:ty)) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name($inner);

        impl $name {
            /// Wraps a string as this identifier.
            pub fn new(value: impl Into<$inner>) -> Self {
                Self(value.into())
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }
    };
}

string_id!(
    /// The upstream generator's id of a signal; unique within a store.
    /// Ids of up to 24 bytes are held inline.
    SignalId(compact_str::CompactString)
);
string_id!(
    /// The name of a learning strategy (script or plugin), unique within a run.
    StrategyId(String)
);
string_id!(
    /// An instrument symbol such as `BTC-USD`. Cheap to clone: price updates
    /// carry one each.
    Symbol(Arc<str>)
);

/// The number of a strategy version, counted from 1 per strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VersionId(pub u32);

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A character that no id or name may hold, and where it is: a control
/// character (Unicode category Cc: C0, DEL and C1, such as ESC or a
/// newline), which a terminal acts on and which forges a line in a text
/// log, or a bidirectional override or isolate (U+202A..U+202E,
/// U+2066..U+2069), which shows the text after it in another order than it
/// is stored. Every id and name a user supplies is checked for these where
/// its other rules are ([`crate::check_name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "contains a control character (U+{:04X}) at byte {at}; ids and names may not hold control characters \
     or bidirectional overrides",
    u32::from(*.found)
)]
pub struct ForbiddenChar {
    pub found: char,
    /// The byte offset of `found` in the text.
    pub at: usize,
}

impl ForbiddenChar {
    /// Whether `c` may not appear in an id or a name.
    pub fn is_forbidden(c: char) -> bool {
        c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }

    /// The first character of `text` an id or a name may not hold.
    pub fn find(text: &str) -> Option<Self> {
        text.char_indices()
            .find(|&(_, c)| Self::is_forbidden(c))
            .map(|(at, found)| ForbiddenChar { found, at })
    }
}

/// `text` as it may be shown on a terminal or in a log line: each character
/// an id or a name may not hold written as `\u{1b}`, the rest unchanged.
/// For names a store took before they were refused.
pub fn printable(text: &str) -> Cow<'_, str> {
    if ForbiddenChar::find(text).is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if ForbiddenChar::is_forbidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bidi_overrides_are_found_with_their_byte_offset() {
        assert_eq!(ForbiddenChar::find("BTC-USD"), None);
        assert_eq!(ForbiddenChar::find("café €"), None, "other non-ASCII text is a name");
        assert_eq!(ForbiddenChar::find("EVIL\u{1b}[2J"), Some(ForbiddenChar { found: '\u{1b}', at: 4 }));
        assert_eq!(
            ForbiddenChar::find("é\n"),
            Some(ForbiddenChar { found: '\n', at: 2 }),
            "bytes, not chars"
        );
        for c in
            ['\0', '\t', '\r', '\u{7f}', '\u{85}', '\u{9b}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}']
        {
            assert_eq!(ForbiddenChar::find(&format!("a{c}")).map(|f| f.found), Some(c), "{c:?}");
        }
        for c in ['\u{2029}', '\u{2065}', '\u{206a}', '\u{200d}', '\u{a0}'] {
            assert_eq!(ForbiddenChar::find(&format!("a{c}")), None, "{c:?} is not one");
        }
        let reason = ForbiddenChar { found: '\u{1b}', at: 4 }.to_string();
        assert!(reason.starts_with("contains a control character (U+001B) at byte 4;"), "{reason}");
    }

    #[test]
    fn printable_escapes_exactly_the_forbidden_characters() {
        assert!(matches!(printable("BTC é"), Cow::Borrowed("BTC é")));
        assert_eq!(printable("EVIL\u{1b}[2J\n\u{202e}x"), "EVIL\\u{1b}[2J\\u{a}\\u{202e}x");
    }
}
