//! Names for the choices a user types (`--activation relu`, `--dataset mnist`).

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
