//! Secrets (the app secret key) come through a provider, never by changing the process
//! environment, so tests inject them and nothing else can leak them.

use std::collections::HashMap;

/// Reads a secret by the name of the environment variable that holds it.
pub trait SecretProvider: Send + Sync {
    /// The value, or `None` when it is unset or empty.
    fn get(&self, var: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvSecrets;

#[expect(
    clippy::disallowed_methods,
    reason = "secrets come from the environment, through this provider only"
)]
impl SecretProvider for EnvSecrets {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.is_empty())
    }
}

/// A fixed map; for tests and the demo.
#[derive(Debug, Default, Clone)]
pub struct MapSecrets(pub HashMap<String, String>);

impl MapSecrets {
    #[must_use]
    pub fn with(mut self, var: &str, value: &str) -> Self {
        self.0.insert(var.to_owned(), value.to_owned());
        self
    }
}

impl SecretProvider for MapSecrets {
    fn get(&self, var: &str) -> Option<String> {
        self.0.get(var).filter(|v| !v.is_empty()).cloned()
    }
}

/// Replaces the value of every `usersig=` query parameter in `text` with `REDACTED`.
///
/// Used on every URL, HTTP error and log line that could carry a UserSig.
#[must_use]
pub fn redact_usersig(text: &str) -> String {
    const KEY: &str = "usersig=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = find_ascii_case_insensitive(rest, KEY) {
        let value_start = i + KEY.len();
        out.push_str(&rest[..value_start]);
        out.push_str("REDACTED");
        let value_len = rest[value_start..]
            .find(['&', ' ', '"', '\'', ')', '\n', '\r', '\t', '#', '>'])
            .unwrap_or(rest.len() - value_start);
        rest = &rest[value_start + value_len..];
    }
    out.push_str(rest);
    out
}

/// Whether `text` carries a UserSig: what [`redact_usersig`] would change (a cheap search
/// first, so text without `usersig=` is never copied).
#[must_use]
pub fn carries_usersig(text: &str) -> bool {
    find_ascii_case_insensitive(text, "usersig=").is_some() && redact_usersig(text) != text
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_every_usersig_value() {
        assert_eq!(
            redact_usersig(
                "GET http://h/v4/x?sdkappid=1&usersig=eJy*ab-c_&random=5 failed; UserSig=zz"
            ),
            "GET http://h/v4/x?sdkappid=1&usersig=REDACTED&random=5 failed; UserSig=REDACTED"
        );
        assert_eq!(redact_usersig("no secret here"), "no secret here");
    }

    #[test]
    fn empty_values_count_as_missing() {
        let s = MapSecrets::default().with("A", "").with("B", "k");
        assert_eq!(s.get("A"), None);
        assert_eq!(s.get("B").as_deref(), Some("k"));
        assert_eq!(s.get("C"), None);
    }
}
