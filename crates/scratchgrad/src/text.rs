//! Text shown to people and typed by them: text from users and files kept short and on one
//! line wherever it is shown (a node's label in a picture of the graph, a sub-expression or
//! a name in a message), and the names users type for choices (`relu`, `adam`, `mnist`).

/// The most characters a label keeps.
pub const MAX_LABEL_CHARS: usize = 40;

/// `text` on one line (runs of whitespace become one space) if it has at most `max`
/// characters, else its start and end around a `…`, at most `max` characters in all. Reads
/// only about `max` characters of `text`, so labelling every node of a long expression stays
/// linear in its length.
///
/// ```
/// use scratchgrad::text::elide;
/// assert_eq!(elide("x +\n  y", 10), "x + y");
/// assert_eq!(elide("abcdefghijklmnop", 9), "abcd…mnop");
/// ```
pub fn elide(text: &str, max: usize) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_none() {
        return one_line(&head);
    }
    let keep = max.saturating_sub(1);
    let start: String = head.chars().take(keep / 2).collect();
    let mut end: Vec<char> = text.chars().rev().take(keep - keep / 2).collect();
    end.reverse();
    one_line(&format!("{start}…{}", end.into_iter().collect::<String>()))
}

/// True for characters that show as themselves: not a control character (a newline, an
/// escape sequence's ESC) and not an invisible formatting one (a zero-width space, a
/// byte-order mark, a bidirectional override that reorders what follows it on screen).
///
/// ```
/// use scratchgrad::text::is_visible;
/// assert!(is_visible('x') && is_visible('é') && is_visible('→'));
/// assert!(!is_visible('\n') && !is_visible('\u{1b}') && !is_visible('\u{202e}'));
/// ```
pub fn is_visible(c: char) -> bool {
    let invisible = matches!(
        c as u32,
        0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0xFEFF
    );
    !c.is_control() && !invisible
}

/// The most characters a word (a run without spaces, such as a path) keeps in
/// [`for_terminal`].
pub const MAX_WORD_CHARS: usize = 200;

/// `text` made safe to print on a terminal: every character that would not show as itself
/// (a newline, an escape sequence's ESC, a right-to-left override) written as its escape
/// (`\u{1b}`), and every word (a run without spaces, such as a path) longer than
/// [`MAX_WORD_CHARS`] shortened around a `…`. For messages that quote what a user or a file
/// gave: a file name can hold anything.
///
/// ```
/// use scratchgrad::text::for_terminal;
/// assert_eq!(for_terminal("evil\u{1b}[2J.png"), "evil\\u{1b}[2J.png");
/// assert_eq!(for_terminal("a\nb"), "a\\u{a}b");
/// assert_eq!(for_terminal(&"q".repeat(100_000)).chars().count(), 200);
/// ```
pub fn for_terminal(text: &str) -> String {
    let escaped: String = text
        .chars()
        .map(|c| {
            if is_visible(c) {
                c.to_string()
            } else {
                c.escape_unicode().to_string()
            }
        })
        .collect();
    escaped
        .split(' ')
        .map(|word| {
            if word.chars().count() > MAX_WORD_CHARS {
                elide(word, MAX_WORD_CHARS)
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Gives a fieldless enum its user-facing names: `Display` writes a variant's name and
/// `FromStr` reads it back, failing with a message that lists every name.
macro_rules! named_choices {
    ($ty:ty, $what:literal, [$($variant:ident => $name:literal),+ $(,)?]) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self {
                    $(Self::$variant => $name,)+
                })
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    _ => Err(format!("unknown {} `{s}` (known: {})", $what, [$($name),+].join(", "))),
                }
            }
        }
    };
}

pub(crate) use named_choices;
