//! What the load generator reads about processes from `/proc` (resident memory, CPU time) and
//! the open-file limit it raises for itself.

use std::path::PathBuf;

/// Resident memory and CPU time of a process at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// `VmRSS` in KiB.
    pub rss_kib: u64,
    /// User + system CPU time, seconds.
    pub cpu_secs: f64,
}

/// Errors reading `/proc`.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// The file could not be read (process gone, not Linux).
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file did not have the expected fields.
    #[error("unexpected contents of {0}")]
    Format(PathBuf),
}

/// Clock ticks per second used by `/proc/<pid>/stat`.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn read(path: PathBuf) -> Result<(String, PathBuf), ProcError> {
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok((s, path)),
        Err(source) => Err(ProcError::Read { path, source }),
    }
}

/// `VmRSS` (KiB) from the text of `/proc/<pid>/status`.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `utime + stime` (clock ticks) from the text of `/proc/<pid>/stat`. The command name in
/// parentheses may contain spaces, so fields are counted after the last `)`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after = stat.get(stat.rfind(')')? + 1..)?;
    // After the name: state(3) ppid(4) ... utime(14) stime(15): indices 11 and 12 here.
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Samples `pid`'s resident memory and CPU time.
pub fn sample(pid: u32) -> Result<ProcSample, ProcError> {
    let (status, spath) = read(PathBuf::from(format!("/proc/{pid}/status")))?;
    let rss_kib = parse_vm_rss_kib(&status).ok_or(ProcError::Format(spath))?;
    let (stat, path) = read(PathBuf::from(format!("/proc/{pid}/stat")))?;
    let ticks = parse_cpu_ticks(&stat).ok_or(ProcError::Format(path))?;
    Ok(ProcSample {
        rss_kib,
        cpu_secs: ticks as f64 / clock_ticks(),
    })
}

/// Samples this process.
pub fn sample_self() -> Result<ProcSample, ProcError> {
    sample(std::process::id())
}

/// An `rlim_t` (u64 on 64-bit Linux, narrower elsewhere) as u64.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn rlim_u64(v: libc::rlim_t) -> u64 {
    v as u64
}

/// Raises the soft `RLIMIT_NOFILE` as far as allowed, towards `wanted` (the hard limit caps
/// it unless the process may raise that too). Returns the resulting soft limit.
pub fn raise_nofile_limit(wanted: u64) -> std::io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let wanted = wanted as libc::rlim_t;
    if lim.rlim_cur >= wanted {
        return Ok(rlim_u64(lim.rlim_cur));
    }
    // First try to lift the hard limit as well (needs CAP_SYS_RESOURCE), then the soft one.
    if lim.rlim_max < wanted {
        let raised = libc::rlimit {
            rlim_cur: wanted,
            rlim_max: wanted,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok(rlim_u64(wanted));
        }
    }
    let soft = libc::rlimit {
        rlim_cur: wanted.min(lim.rlim_max),
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(rlim_u64(soft.rlim_cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_stat() {
        let status = "Name:\tsv2-pool\nVmPeak:\t  200 kB\nVmRSS:\t   51234 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss_kib(status), Some(51234));
        assert_eq!(parse_vm_rss_kib("Name: x\n"), None);
        let stat =
            "4242 (sv2 pool) (x) S 1 4242 4242 0 -1 4194304 100 0 0 0 731 269 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_cpu_ticks(stat), Some(1000));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1 2"), None);
        assert_eq!(parse_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn samples_this_process_and_raises_nothing_below_current() {
        let s = sample_self().unwrap();
        assert!(s.rss_kib > 0);
        assert!(s.cpu_secs >= 0.0);
        let now = raise_nofile_limit(1).unwrap();
        assert!(now >= 1);
        assert!(sample(u32::MAX).is_err());
    }
}
