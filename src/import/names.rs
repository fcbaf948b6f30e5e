//! Names of the generated objects: from `--name`, or derived from the workspace host.

/// The longest generated name: leaves room for `-<n>-oauth` and `-uc-setup` suffixes within the
/// 63 characters of a label value.
pub(super) const MAX_NAME: usize = 50;

/// A name for the DatabricksIntegration: a DNS-1123 label of at most [`MAX_NAME`] characters.
pub(super) fn is_dns_name(s: &str) -> bool {
    is_label(s, MAX_NAME)
}

/// A namespace name: a DNS-1123 label (at most 63 characters).
pub(super) fn is_namespace(s: &str) -> bool {
    is_label(s, 63)
}

/// A DNS-1123 label, which is also a valid object name: lowercase alphanumerics and '-'.
fn is_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The Databricks domains a workspace host ends in; the part before names the integration.
const DATABRICKS_DOMAINS: [&str; 5] = [
    ".cloud.databricks.com",
    ".gcp.databricks.com",
    ".azuredatabricks.net",
    ".databricks.azure.cn",
    ".databricks.com",
];

/// `https://www.example-workspace.cloud.databricks.com:443` → `example-workspace`;
/// `adb-123.7.azuredatabricks.net` → `adb-123-7`.
pub fn name_from_host(workspace_url: &str) -> String {
    let host = workspace_url.trim();
    let host = host
        .strip_prefix("https://")
        .or_else(|| host.strip_prefix("http://"))
        .unwrap_or(host);
    let host = host
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let base = DATABRICKS_DOMAINS
        .iter()
        .find_map(|d| host.strip_suffix(d))
        .unwrap_or(host);
    let mut name = String::new();
    for c in base.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
            name.push(c);
        }
    }
    name.truncate(MAX_NAME);
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "databricks".to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_host_and_are_dns_safe() {
        assert_eq!(
            name_from_host("www.example-workspace.cloud.databricks.com"),
            "example-workspace"
        );
        assert_eq!(
            name_from_host("https://adb-1234567890123456.7.azuredatabricks.net:443/"),
            "adb-1234567890123456-7"
        );
        assert_eq!(name_from_host("http://x.gcp.databricks.com"), "x");
        assert_eq!(name_from_host("My_Host.example.org"), "my-host-example-org");
        assert_eq!(name_from_host("---"), "databricks");
        let long = name_from_host(&"a-".repeat(300));
        assert!(long.len() <= MAX_NAME && is_dns_name(&long), "{long}");
    }

    #[test]
    fn dns_names_are_checked() {
        for good in ["a", "a-1", &"x".repeat(MAX_NAME)] {
            assert!(is_dns_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"x".repeat(MAX_NAME + 1)] {
            assert!(!is_dns_name(bad), "{bad}");
        }
        // Namespaces are not suffixed, so they may use all 63 characters of a label.
        assert!(is_namespace(&"n".repeat(63)) && !is_namespace(&"n".repeat(64)));
        assert!(!is_namespace("Team_A"));
    }
}
