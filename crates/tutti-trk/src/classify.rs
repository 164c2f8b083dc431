//! Telling people from machines: security scanners, link prefetchers and privacy proxies
//! open and click too. Each event keeps why it looks like machine traffic, so reports can
//! show people apart from everything.

use tutti_core::api::AgentClass;

/// A request made with HEAD: nobody reading mail sends one.
pub const HEAD: u32 = 1;
/// No user agent at all.
pub const NO_USER_AGENT: u32 = 2;
/// A privacy or image proxy (Apple Mail Privacy Protection, Google's image proxy).
pub const PROXY: u32 = 4;
/// A link previewer or prefetcher.
pub const PREFETCHER: u32 = 8;
/// A security scanner or a script.
pub const SCANNER: u32 = 16;
/// A click within [`TOO_FAST_SECONDS`] of the message being built.
pub const TOO_FAST: u32 = 32;

pub const TOO_FAST_SECONDS: u64 = 10;

const NAMES: [(u32, &str); 6] = [
    (HEAD, "head"),
    (NO_USER_AGENT, "no_user_agent"),
    (PROXY, "proxy"),
    (PREFETCHER, "prefetcher"),
    (SCANNER, "scanner"),
    (TOO_FAST, "too_fast"),
];

/// The names of the flags in `flags`.
pub fn flag_names(flags: u32) -> Vec<String> {
    NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| name.to_string())
        .collect()
}

/// The flags `names` stand for; an unknown name is refused with its text.
pub fn flags_of(names: &[String]) -> Result<u32, String> {
    names.iter().try_fold(0, |flags, name| {
        NAMES
            .iter()
            .find(|(_, n)| n == name)
            .map(|(bit, _)| flags | bit)
            .ok_or_else(|| format!("\"{name}\" is not a machine-traffic flag"))
    })
}

const PROXIES: &[&str] = &[
    "googleimageproxy",
    "ggpht.com",
    "yahoomailproxy",
    "yahoo! slurp",
];
const PREFETCHERS: &[&str] = &[
    "bingpreview",
    "slackbot",
    "slack-imgproxy",
    "facebookexternalhit",
    "linkedinbot",
    "twitterbot",
    "whatsapp",
    "telegrambot",
    "discordbot",
    "skypeuripreview",
    "microsoft office",
    "ms-office",
    "outlook-ios-linkpreview",
    "google-safety",
    "preview",
];
const SCANNERS: &[&str] = &[
    "barracuda",
    "proofpoint",
    "mimecast",
    "symantec",
    "trendmicro",
    "forcepoint",
    "sophos",
    "zscaler",
    "fortinet",
    "appriver",
    "safelinks",
    "cisco",
    "ironport",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "curl/",
    "wget",
    "libwww",
    "java/",
    "okhttp",
    "axios",
    "node-fetch",
    "httpclient",
    "scrapy",
    "headlesschrome",
    "phantomjs",
    "bot",
    "crawler",
    "spider",
    "scanner",
];
const MAIL_CLIENTS: &[&str] = &[
    "thunderbird",
    "outlook",
    "microsoft outlook",
    "applemail",
    "mail/",
    "airmail",
    "postbox",
];

/// The class of a user agent and the machine flags it alone implies.
pub fn classify(user_agent: Option<&str>) -> (AgentClass, u32) {
    let Some(ua) = user_agent.map(str::trim).filter(|u| !u.is_empty()) else {
        return (AgentClass::Unknown, NO_USER_AGENT);
    };
    let lower = ua.to_ascii_lowercase();
    let has = |list: &[&str]| list.iter().any(|p| lower.contains(p));
    // Apple Mail Privacy Protection fetches with a bare "Mozilla/5.0".
    if has(PROXIES) || lower == "mozilla/5.0" {
        (AgentClass::Proxy, PROXY)
    } else if has(PREFETCHERS) {
        (AgentClass::Prefetcher, PREFETCHER)
    } else if has(SCANNERS) {
        (AgentClass::Scanner, SCANNER)
    } else if has(MAIL_CLIENTS) {
        (AgentClass::MailClient, 0)
    } else if lower.starts_with("mozilla/") {
        (AgentClass::Browser, 0)
    } else {
        (AgentClass::Unknown, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_and_machines() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(classify(Some(firefox)), (AgentClass::Browser, 0));
        assert_eq!(
            classify(Some("Mozilla/5.0")),
            (AgentClass::Proxy, PROXY),
            "Apple Mail Privacy Protection"
        );
        assert_eq!(classify(Some("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)")).1, PROXY);
        assert_eq!(
            classify(Some(
                "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
            ))
            .1,
            PREFETCHER
        );
        assert_eq!(classify(Some("Barracuda Sentinel (EE)")).1, SCANNER);
        assert_eq!(classify(Some("python-requests/2.31")).1, SCANNER);
        assert_eq!(
            classify(Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Microsoft Outlook 16.0"
            ))
            .0,
            AgentClass::MailClient
        );
        assert_eq!(classify(None), (AgentClass::Unknown, NO_USER_AGENT));
        assert_eq!(flag_names(HEAD | TOO_FAST), ["head", "too_fast"]);
    }
}
