//! Where credentials may go: the host patterns of `--allowed-hosts`, checked before every
//! request (workspace, authority URL, discovered token endpoint).

use std::fmt;
use std::str::FromStr;

use super::connection::ConfigError;
use super::error::Error;

/// The default: the Databricks cloud domains and the Microsoft Entra login hosts. The DNS zones
/// are databricks-sdk-go `common/environment/environments.go` (AWS, AWS GovCloud, Azure public,
/// government and China, GCP); the login hosts are its `azure.go` Active Directory endpoints
/// plus the older China endpoint `login.partner.microsoftonline.cn`.
const DEFAULT_ALLOWED_HOSTS: &[&str] = &[
    "*.cloud.databricks.com",
    "*.cloud.databricks.us",
    "*.azuredatabricks.net",
    "*.databricks.azure.us",
    "*.databricks.azure.cn",
    "*.gcp.databricks.com",
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    /// `*.example.com` as `.example.com`: any host under it, not the domain itself.
    Under(String),
    Exact(String),
}

/// A list of host patterns: `*` (any host), `*.example.com` (any host under example.com), or a
/// host name. Matching ignores case; ports are not part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    patterns: Vec<Pattern>,
}

impl Default for AllowedHosts {
    fn default() -> Self {
        Self::parse(&DEFAULT_ALLOWED_HOSTS.join(",")).expect("the default patterns are valid")
    }
}

impl AllowedHosts {
    /// Comma-separated patterns, as the flag takes them.
    pub fn parse(list: &str) -> Result<Self, ConfigError> {
        let patterns = list
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(parse_pattern)
            .collect::<Result<Vec<_>, _>>()?;
        if patterns.is_empty() {
            return Err(ConfigError::AllowedHosts {
                pattern: list.to_owned(),
                reason: "no host pattern given",
            });
        }
        Ok(Self { patterns })
    }

    pub fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.patterns.iter().any(|p| match p {
            Pattern::Any => true,
            Pattern::Under(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
            Pattern::Exact(exact) => host == *exact,
        })
    }

    /// Refuses `url` unless its host is allowed; a URL without a host is refused too.
    pub(crate) fn check_url(&self, url: &str) -> Result<(), Error> {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        match host {
            Some(host) if self.allows(host.trim_start_matches('[').trim_end_matches(']')) => Ok(()),
            Some(host) => Err(Error::HostNotAllowed { host }),
            None => Err(Error::HostNotAllowed {
                host: super::error::strip_query(url),
            }),
        }
    }
}

fn parse_pattern(raw: &str) -> Result<Pattern, ConfigError> {
    let err = |reason| ConfigError::AllowedHosts {
        pattern: raw.to_owned(),
        reason,
    };
    let p = raw.to_ascii_lowercase();
    if p == "*" {
        return Ok(Pattern::Any);
    }
    let (under, name) = match p.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, p.as_str()),
    };
    if name.contains("://") || name.contains('/') {
        return Err(err("a host pattern has no scheme or path"));
    }
    if name.contains('*') {
        return Err(err("`*` may only stand alone or start a pattern as `*.`"));
    }
    let host_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':');
    if name.is_empty() || name.starts_with('.') || !name.chars().all(host_chars) {
        return Err(err("not a host name"));
    }
    // One colon is `host:port`; an IPv6 address has more.
    if name.contains(':') && (under || name.matches(':').count() == 1) {
        return Err(err("ports are not part of a host pattern"));
    }
    Ok(if under {
        Pattern::Under(format!(".{name}"))
    } else {
        Pattern::Exact(name.to_owned())
    })
}

impl FromStr for AllowedHosts {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Vec<String> = self
            .patterns
            .iter()
            .map(|p| match p {
                Pattern::Any => "*".to_owned(),
                Pattern::Under(suffix) => format!("*{suffix}"),
                Pattern::Exact(host) => host.clone(),
            })
            .collect();
        f.write_str(&text.join(","))
    }
}

/// A narrower list a credential carries (its Secret's `uc-operator.dev/allowed-hosts`), checked
/// after `--allowed-hosts`: both must allow every host the credential is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRestriction {
    /// Who set it, for messages (e.g. `Secret ns/name`).
    pub source: String,
    pub hosts: AllowedHosts,
}

impl HostRestriction {
    pub(crate) fn check_url(&self, url: &str) -> Result<(), Error> {
        self.hosts.check_url(url).map_err(|e| match e {
            Error::HostNotAllowed { host } => Error::HostNotAllowedBy {
                host,
                by: self.source.clone(),
            },
            other => other,
        })
    }
}

/// What to add to the flag to allow `host`: the host, and for a name with a parent domain a
/// pattern for its siblings too.
pub(crate) fn hint(host: &str) -> String {
    let is_ip = host.parse::<std::net::IpAddr>().is_ok() || host.contains(':');
    match host.split_once('.') {
        Some((_, parent)) if !is_ip && parent.contains('.') => {
            format!("add {host}, or a pattern such as *.{parent}, to the flag")
        }
        _ => format!("add {host} to the flag"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_allows_the_databricks_clouds_and_entra() {
        let d = AllowedHosts::default();
        for ok in [
            "dbc-1a2b.cloud.databricks.com",
            "adb-123.4.azuredatabricks.net",
            "ADB-1.AZUREDATABRICKS.NET",
            "adb-1.databricks.azure.us",
            "adb-1.databricks.azure.cn",
            "1234.5.gcp.databricks.com",
            "dbc-1.cloud.databricks.us",
            "login.microsoftonline.com",
            "login.microsoftonline.us",
            "login.chinacloudapi.cn",
            "login.partner.microsoftonline.cn",
        ] {
            assert!(d.allows(ok), "{ok}");
        }
        for refused in [
            "cloud.databricks.com",
            "evil.com",
            "cloud.databricks.com.evil.com",
            "evilcloud.databricks.com.attacker.net",
            "xazuredatabricks.net",
            "localhost",
            "127.0.0.1",
            "login.microsoftonline.com.evil.com",
        ] {
            assert!(!d.allows(refused), "{refused}");
        }
        assert_eq!(d.to_string(), DEFAULT_ALLOWED_HOSTS.join(","));
    }

    #[test]
    fn patterns_parse_and_match() {
        let a: AllowedHosts = " *.example.com, localhost ,127.0.0.1".parse().unwrap();
        assert!(a.allows("a.example.com") && a.allows("a.b.example.com"));
        assert!(!a.allows("example.com") && !a.allows("aexample.com"));
        assert!(a.allows("LOCALHOST") && a.allows("127.0.0.1"));
        assert!(AllowedHosts::parse("*").unwrap().allows("anything.at.all"));
        for bad in [
            "",
            " , ",
            "https://x.com",
            "x.com/path",
            "a.*.com",
            "*x.com",
            "host:443",
        ] {
            assert!(AllowedHosts::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_are_checked_by_host() {
        let a = AllowedHosts::parse("localhost").unwrap();
        assert!(a.check_url("https://localhost:8443/api/2.0/x?y=1").is_ok());
        let err = a
            .check_url("https://127.0.0.1:8443/token?secret=1")
            .unwrap_err();
        assert!(matches!(&err, Error::HostNotAllowed { host } if host == "127.0.0.1"));
        assert!(a.check_url("not a url").is_err());
        let text = Error::HostNotAllowed {
            host: "ws.evil.example.com".into(),
        }
        .to_string();
        assert!(text.contains("ws.evil.example.com") && text.contains("*.evil.example.com"));
        assert!(text.contains("--allowed-hosts"), "{text}");
        assert_eq!(hint("127.0.0.1"), "add 127.0.0.1 to the flag");
        assert_eq!(hint("localhost"), "add localhost to the flag");
    }
}
