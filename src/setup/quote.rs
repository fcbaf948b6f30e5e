//! Quoting for Databricks SQL: identifiers in backticks (an embedded backtick doubled), string
//! literals in single quotes with backslash escapes (Databricks reads `''` as two literals).

/// One identifier: `` a`b `` → `` `a``b` ``.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A dotted name, each part quoted: `cat.sch` → `` `cat`.`sch` ``.
pub fn quote_name(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| quote_ident(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// A string literal: `it's` → `'it\'s'`.
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(quote_ident("account users"), "`account users`");
        assert_eq!(quote_name(&["c", "s`x", "t"]), "`c`.`s``x`.`t`");
    }

    #[test]
    fn literals() {
        assert_eq!(quote_literal("it's"), r"'it\'s'");
        assert_eq!(quote_literal(r"a\b"), r"'a\\b'");
        assert_eq!(quote_literal("ns/name"), "'ns/name'");
    }
}
