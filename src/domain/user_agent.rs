//! A browser or program in words, from its User-Agent header: "Chrome 131 on Windows", "Safari 17 on
//! iPhone", "curl 8.5", for the activity log.
//!
//! A small parser of our own rather than a crate: the maintained parsers carry the whole uap-core regex
//! data set (megabytes of patterns compiled at start) to tell thousands of devices apart, and the small
//! one (woothee) has had no release since 2021. The log needs only the browser's name and major
//! version and the kind of system, which the browsers people use still say in a few fixed tokens.

/// What a User-Agent says about the program that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agent {
    /// A web browser: its name, major version and the system it runs on, as far as they can be told.
    Browser {
        name: &'static str,
        version: Option<String>,
        system: Option<&'static str>,
    },
    /// A program that is not a browser (curl, an HTTP library, a crawler): its own name and version.
    Tool {
        name: String,
        version: Option<String>,
    },
    /// Nothing that can be told apart.
    Unknown,
}

/// Browsers by the token that names them, most specific first: Edge, Opera and Samsung Internet also
/// say "Chrome/", and every browser on iOS says "Safari/".
const BROWSERS: &[(&str, &str)] = &[
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edg/", "Edge"),
    ("Edge/", "Edge"),
    ("OPR/", "Opera"),
    ("OPiOS/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("YaBrowser/", "Yandex Browser"),
    ("Vivaldi/", "Vivaldi"),
    ("UCBrowser/", "UC Browser"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
];

/// Systems by a token of theirs, most specific first: an iPhone says "like Mac OS X", Android and
/// ChromeOS say "Linux", some Windows phones say "Android".
const SYSTEMS: &[(&str, &str)] = &[
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("iPod", "iPod touch"),
    ("Windows Phone", "Windows Phone"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("FreeBSD", "FreeBSD"),
    ("OpenBSD", "OpenBSD"),
    ("Linux", "Linux"),
    ("X11", "Linux"),
];

/// The longest name of a program kept: anything longer is not a name.
const MAX_NAME: usize = 40;

/// Reads a User-Agent header.
pub fn parse(header: &str) -> Agent {
    let header = header.trim();
    if header.is_empty() {
        return Agent::Unknown;
    }
    if !header.starts_with("Mozilla/") {
        return tool(header);
    }
    if let Some(bot) = crawler(header) {
        return bot;
    }
    let Some((name, version)) = browser(header) else {
        return Agent::Unknown;
    };
    Agent::Browser {
        name,
        version,
        system: SYSTEMS
            .iter()
            .find(|(token, _)| header.contains(token))
            .map(|(_, system)| *system),
    }
}

impl Agent {
    /// In words, with `on` between browser and system ("on", "على") and `unknown` for what cannot be
    /// told ("Unknown browser").
    pub fn words(&self, on: &str, unknown: &str) -> String {
        match self {
            Agent::Browser {
                name,
                version,
                system,
            } => {
                let mut text = (*name).to_owned();
                if let Some(version) = version {
                    text.push(' ');
                    text.push_str(version);
                }
                if let Some(system) = system {
                    text.push_str(&format!(" {on} {system}"));
                }
                text
            }
            Agent::Tool { name, version } => match version {
                Some(version) => format!("{name} {version}"),
                None => name.clone(),
            },
            Agent::Unknown => unknown.to_owned(),
        }
    }
}

/// The browser's name and major version.
fn browser(header: &str) -> Option<(&'static str, Option<String>)> {
    if let Some((token, name)) = BROWSERS.iter().find(|(token, _)| header.contains(token)) {
        return Some((name, version_after(header, token).map(|v| major(&v))));
    }
    if header.contains("Safari/") {
        // Safari says its own version after "Version/"; "Safari/" is WebKit's build.
        return Some((
            "Safari",
            version_after(header, "Version/").map(|v| major(&v)),
        ));
    }
    if let Some(version) = version_after(header, "MSIE ") {
        return Some(("Internet Explorer", Some(major(&version))));
    }
    if header.contains("Trident/") {
        return Some((
            "Internet Explorer",
            version_after(header, "rv:").map(|v| major(&v)),
        ));
    }
    None
}

/// A crawler that calls itself Mozilla-compatible: "(compatible; Googlebot/2.1; +http://...)".
fn crawler(header: &str) -> Option<Agent> {
    header
        .split(|c: char| c == ';' || c == '(' || c == ')' || c.is_whitespace())
        .filter_map(|token| token.split_once('/'))
        .find(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            (lower.contains("bot") || lower.contains("spider") || lower.contains("crawler"))
                && plain_name(name)
        })
        .map(|(name, version)| Agent::Tool {
            name: name.to_owned(),
            version: leading_version(version).map(|v| major_minor(&v)),
        })
}

/// A program that does not claim to be a browser: "curl/8.5.0", "python-requests/2.32.3".
fn tool(header: &str) -> Agent {
    let first = header.split_whitespace().next().unwrap_or_default();
    let (name, version) = first.split_once('/').unwrap_or((first, ""));
    if !plain_name(name) {
        return Agent::Unknown;
    }
    Agent::Tool {
        name: name.to_owned(),
        version: leading_version(version).map(|v| major_minor(&v)),
    }
}

/// Whether `name` reads as a program's name: letters first, then letters, digits, `-`, `_` or `.`.
fn plain_name(name: &str) -> bool {
    name.len() <= MAX_NAME
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The version right after `token`: "131.0.6778.73" after "Chrome/".
fn version_after(header: &str, token: &str) -> Option<String> {
    let at = header.find(token)? + token.len();
    leading_version(&header[at..])
}

/// The digits and dots a text starts with, when it starts with a digit.
fn leading_version(text: &str) -> Option<String> {
    let version: String = text
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '_')
        .map(|c| if c == '_' { '.' } else { c })
        .collect();
    let version = version.trim_end_matches('.');
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| version.to_owned())
}

/// "131" of "131.0.6778.73".
fn major(version: &str) -> String {
    version.split('.').next().unwrap_or(version).to_owned()
}

/// "8.5" of "8.5.0".
fn major_minor(version: &str) -> String {
    version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real User-Agent headers and what the activity log says of them.
    const SEEN: &[(&str, &str)] = &[
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Chrome 131 on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari 17 on iPhone",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133 on Linux",
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox 128 on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133 on Windows",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
            "Edge 131 on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "Safari 18 on macOS",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Chrome 131 on macOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome 131 on Android",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            "Samsung Internet 26 on Android",
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0",
            "Edge 131 on Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            "Chrome 131 on iPhone",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
            "Firefox 133 on iPad",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
            "Opera 115 on Windows",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Chrome 131 on ChromeOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
            "Internet Explorer 11 on Windows",
        ),
        (
            "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
            "Internet Explorer 8 on Windows",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
            "Headless Chrome 131 on Linux",
        ),
        ("curl/8.5.0", "curl 8.5"),
        ("Wget/1.21.4", "Wget 1.21"),
        ("python-requests/2.32.3", "python-requests 2.32"),
        ("PostmanRuntime/7.43.0", "PostmanRuntime 7.43"),
        ("Go-http-client/1.1", "Go-http-client 1.1"),
        ("okhttp/4.12.0", "okhttp 4.12"),
        ("HTTPie/3.2.4", "HTTPie 3.2"),
        (
            "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240805.005)",
            "Dalvik 2.1",
        ),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Googlebot 2.1",
        ),
        (
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "bingbot 2.0",
        ),
        ("", "Unknown browser"),
        ("   ", "Unknown browser"),
        ("Mozilla/5.0", "Unknown browser"),
        ("Mozilla/5.0 (X11; Linux x86_64)", "Unknown browser"),
        ("!!! <script>", "Unknown browser"),
        ("1234/5", "Unknown browser"),
    ];

    #[test]
    fn real_user_agents_read_as_words() {
        for (header, words) in SEEN {
            assert_eq!(
                parse(header).words("on", "Unknown browser"),
                *words,
                "{header}"
            );
        }
    }

    #[test]
    fn the_words_between_come_from_the_caller() {
        let chrome = parse(SEEN[0].0);
        assert_eq!(
            chrome.words("على", "متصفح غير معروف"),
            "Chrome 131 على Windows"
        );
        assert_eq!(parse("").words("على", "متصفح غير معروف"), "متصفح غير معروف");
    }

    #[test]
    fn a_browser_without_a_version_or_system_says_what_it_knows() {
        assert_eq!(
            parse("Mozilla/5.0 Firefox/").words("on", "?"),
            "Firefox",
            "no version"
        );
        assert_eq!(
            parse("Mozilla/5.0 (KHTML, like Gecko) Chrome/99.1").words("on", "?"),
            "Chrome 99"
        );
        assert_eq!(parse("curl").words("on", "?"), "curl");
    }

    #[test]
    fn anything_read_is_words_and_never_a_panic() {
        let seeds: Vec<&[u8]> = SEEN.iter().map(|(h, _)| h.as_bytes()).collect();
        crate::mutation::mutations(&seeds, 3_000, |_, bytes| {
            let header = String::from_utf8_lossy(bytes);
            let words = parse(&header).words("on", "?");
            assert!(!words.is_empty());
            assert!(
                words.len() <= header.len() + 40,
                "{header:?} read as {words:?}"
            );
        });
    }
}
