//! What the end-to-end benchmarks share: a throwaway installation, the release server and the simulator
//! as child processes (killed when dropped), an account with an API key, and percentiles.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// This same executable, with the installation's paths.
pub fn whatsapi(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    cmd.env("WHATSAPI_STORAGE__DATA_DIR", dir.join("data"))
        .env("WHATSAPI_STORAGE__KEY_FILE", dir.join("master.key"));
    cmd
}

/// Starts `whatsapi serve` with these extra settings and waits until it listens; the process and its URL.
pub fn start_server(dir: &Path, settings: &[(&str, String)]) -> Result<(Killed, String)> {
    let port = free_port()?;
    let mut cmd = whatsapi(dir);
    cmd.arg("serve")
        .env("WHATSAPI_SERVER__PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in settings {
        cmd.env(name, value);
    }
    let mut server = Killed(cmd.spawn().context("cannot start the server")?);
    let stderr = server.0.stderr.take().context("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    if !lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("listening on"))
    {
        bail!("the server did not start");
    }
    std::thread::spawn(move || lines.for_each(drop));
    Ok((server, format!("http://127.0.0.1:{port}")))
}

/// Creates an account and an API key for it; the key.
pub fn api_key(dir: &Path) -> Result<String> {
    let mut create = whatsapi(dir)
        .args([
            "account",
            "create",
            "--company",
            "Bench",
            "--name",
            "Bench",
            "--email",
            // One per run: a filled installation is measured again and again.
            &format!("bench-{}@bench.test", std::process::id()),
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    create
        .stdin
        .take()
        .context("stdin")?
        .write_all(b"benchmark pass phrase\n")?;
    let account = String::from_utf8(create.wait_with_output()?.stdout)?
        .trim()
        .to_owned();
    let key_output = whatsapi(dir)
        .args(["apikey", "create", "--account", &account, "--name", "bench"])
        .output()?;
    Ok(String::from_utf8(key_output.stdout)?.trim().to_owned())
}

pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The CPU time (user and system, seconds) a process has used, from /proc: the server's own cost, which
/// a load generator sharing the cores does not distort.
#[allow(unsafe_code)]
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses; utime and stime are the
    // 14th and 15th fields of the line, the 12th and 13th after it.
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf only reads a system setting.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks / per_second
}

/// A process's storage I/O so far, from `/proc/<pid>/io`: bytes that reached (or were read from) the
/// storage layer, and the read and write calls it made.
#[derive(Debug, Clone, Copy, Default)]
pub struct Io {
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_calls: u64,
    pub write_calls: u64,
}

impl Io {
    pub fn of(pid: u32) -> Io {
        let text = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        Io {
            read_bytes: field("read_bytes:"),
            write_bytes: field("write_bytes:"),
            read_calls: field("syscr:"),
            write_calls: field("syscw:"),
        }
    }

    /// What happened since `before`, per message, as one line of the report.
    pub fn per_message(&self, before: &Io, messages: usize) -> String {
        let n = messages.max(1) as f64;
        format!(
            "{:.1} KB written and {:.1} KB read per message; {:.1} write and {:.1} read calls per message",
            self.write_bytes.saturating_sub(before.write_bytes) as f64 / 1024.0 / n,
            self.read_bytes.saturating_sub(before.read_bytes) as f64 / 1024.0 / n,
            self.write_calls.saturating_sub(before.write_calls) as f64 / n,
            self.read_calls.saturating_sub(before.read_calls) as f64 / n,
        )
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A directory for one run inside `under` (the system's temporary directory when `None`), removed
/// afterwards whatever happened. Says which file system it is on: on a tmpfs an fsync is free, so the
/// figures would flatter.
pub fn in_temporary_dir(
    name: &str,
    under: Option<&Path>,
    run: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let base = under.map_or_else(std::env::temp_dir, Path::to_path_buf);
    let dir = base.join(format!("whatsapi-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!("database in {} ({})", dir.display(), file_system_type(&dir));
    let result = run(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The type of the file system holding `path`, by name where it is a common one.
#[allow(unsafe_code)]
fn file_system_type(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return "unknown file system".into();
    };
    let mut stats = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: statfs reads the NUL-terminated path and writes the struct it is given.
    if unsafe { libc::statfs(c_path.as_ptr(), stats.as_mut_ptr()) } != 0 {
        return "unknown file system".into();
    }
    // The field's type differs between platforms, hence the cast.
    #[allow(clippy::unnecessary_cast)]
    // SAFETY: statfs succeeded, so it filled the struct.
    let kind = unsafe { stats.assume_init() }.f_type as i64;
    match kind {
        0x0102_1994 => "tmpfs: fsync costs nothing here".into(),
        0xEF53 => "ext4".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x794C_7630 => "overlayfs".into(),
        0x2FC1_2FC1 => "zfs".into(),
        other => format!("file system type {other:#x}"),
    }
}
