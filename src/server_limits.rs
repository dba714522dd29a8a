//! How many client connections the server keeps open, and for how long. Every connection holds an open
//! file, and so do the database, the calls to Meta and to customers' webhooks: the limit leaves room
//! for those, so that idle or slow clients can never make the server fail to open a file. The
//! connections themselves are limited by the Rocket copy in vendor/rocket (see its PATCHES.md).

use crate::config::Config;

/// Files the server needs besides client connections and outbound calls: the database and its
/// companions on every reader and the writer, the keystore and its mirrors, logs, the runtime's own.
const RESERVED_FILES: u64 = 128;
/// The fewest connections worth serving; below this the open-files limit is a mistake to report.
const MIN_CONNECTIONS: u64 = 32;

/// The open-files limit in force (soft, hard), if it can be read.
#[allow(unsafe_code)]
fn rlimit() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed to it.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit)
}

/// The soft open-files limit: what the process may actually open.
pub fn open_files_limit() -> Option<u64> {
    rlimit().map(|l| l.rlim_cur)
}

/// Raises the soft open-files limit to the hard one (a service manager's `LimitNOFILE` sets both; a
/// shell's default soft limit is often far below its hard one).
#[allow(unsafe_code)]
pub fn raise_open_files_limit() {
    if let Some(limit) = rlimit().filter(|l| l.rlim_cur < l.rlim_max) {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct passed to it. Failing leaves the limit as it was.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
    }
}

/// What the server will hold to: connections open at once and the idle timeout in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub idle_timeout_secs: u64,
    /// The open-files limit it was derived from, if known.
    pub open_files: Option<u64>,
}

/// The connection limit for this configuration under an open-files limit (`None`: unknown).
pub fn connection_limits(config: &Config, open_files: Option<u64>) -> ConnectionLimits {
    let outbound = (config.sender.max_workers + config.webhooks.workers) as u64;
    let configured = config.server.max_connections as u64;
    let max = match open_files {
        Some(files) => configured.min(
            files
                .saturating_sub(RESERVED_FILES + outbound)
                .max(MIN_CONNECTIONS),
        ),
        None => configured,
    };
    ConnectionLimits {
        max_connections: max as usize,
        idle_timeout_secs: config.server.idle_timeout_secs,
        open_files,
    }
}

impl ConnectionLimits {
    /// The line the server logs at start, so an operator sees the figure and where it comes from.
    pub fn describe(&self, config: &Config) -> String {
        let configured = config.server.max_connections;
        let source = match self.open_files {
            Some(files) if configured > self.max_connections => format!(
                "server.max_connections is {configured}, but the open-files limit of {files} leaves room for \
                 only this many"
            ),
            _ => "server.max_connections".to_owned(),
        };
        format!(
            "accepting at most {} connections at once ({source}); a connection with no request in progress \
             closes after {} s",
            self.max_connections, self.idle_timeout_secs
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_leaves_room_for_the_servers_own_files() {
        let config = Config::default();
        assert_eq!(
            connection_limits(&config, Some(65_536)).max_connections,
            4096
        );
        // Up to 256 sender workers and 8 webhook workers call out; 128 files are kept for the rest.
        let limits = connection_limits(&config, Some(1024));
        assert_eq!(limits.max_connections, 1024 - 128 - 256 - 8);
        assert_eq!(limits.idle_timeout_secs, 15);
        assert!(
            limits
                .describe(&config)
                .contains("leaves room for only this many")
        );

        let mut config = Config::default();
        config.server.max_connections = 100;
        let limits = connection_limits(&config, Some(65_536));
        assert_eq!(limits.max_connections, 100);
        assert!(!limits.describe(&config).contains("only this many"));
        assert_eq!(
            connection_limits(&Config::default(), Some(100)).max_connections,
            MIN_CONNECTIONS as usize
        );
    }
}
