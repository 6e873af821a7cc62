//! Text from outside (server messages, keys read from files) is stripped of control characters
//! before it can reach a terminal, so that a hostile key cannot move the cursor or rewrite a
//! previous line of a diagnostic.

/// Replaces every control character of `text` with its `\u{..}` escape.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::sanitize("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
        assert_eq!(super::sanitize("plain é"), "plain é");
    }
}
