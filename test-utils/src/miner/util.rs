//! Small helpers shared by the miners and their command lines.

use std::time::Duration;

use tokio::net::TcpStream;

use super::error::MinerError;

/// Parses a hash rate such as `1500`, `2.5M`, `100T` or `10 GH/s` into hashes per second.
///
/// Suffixes `k`/`K`, `M`, `G`, `T`, `P`, `E` (powers of 1000), optionally followed by `H`,
/// `H/s` or `h/s`. Negative, NaN and infinite values are refused.
pub fn parse_hashrate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("/s")
        .or_else(|| t.strip_suffix("/S"))
        .unwrap_or(t);
    let t = t
        .strip_suffix('H')
        .or_else(|| t.strip_suffix('h'))
        .unwrap_or(t)
        .trim_end();
    let (num, mult) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let m = match c {
                'k' | 'K' => 1e3,
                'M' => 1e6,
                'G' | 'g' => 1e9,
                'T' | 't' => 1e12,
                'P' | 'p' => 1e15,
                'E' | 'e' => 1e18,
                _ => return Err(format!("unknown hash rate unit in {s:?}")),
            };
            (t.get(..t.len() - c.len_utf8()).unwrap_or_default(), m)
        }
        _ => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a hash rate: {s:?}"))?;
    let v = v * mult;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("hash rate out of range: {s:?}"))
    }
}

/// Splits `host:port` (IPv6 hosts in brackets: `[::1]:3333`).
pub fn split_host_port(addr: &str) -> Result<(String, u16), MinerError> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| MinerError::Config(format!("{addr:?} is not host:port")))?;
    let port = port
        .parse()
        .map_err(|_| MinerError::Config(format!("bad port in {addr:?}")))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(MinerError::Config(format!("empty host in {addr:?}")));
    }
    Ok((host.to_owned(), port))
}

/// Joins a host and port back into a connectable address.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// TCP connect with a deadline; Nagle is switched off (stratum messages are small).
pub(crate) async fn connect_tcp(addr: &str, timeout: Duration) -> Result<TcpStream, MinerError> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| MinerError::ConnectTimeout(addr.to_owned()))??;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// The destination of a pool-requested reconnection: empty host / zero port keep the current.
pub(crate) fn reconnect_target(current: &str, host: Option<&str>, port: Option<u16>) -> String {
    let (cur_host, cur_port) = split_host_port(current).unwrap_or((current.to_owned(), 0));
    let host = host.filter(|h| !h.is_empty()).unwrap_or(&cur_host);
    let port = port.filter(|p| *p != 0).unwrap_or(cur_port);
    join_host_port(host, port)
}

/// `from + d`, saturating at a far-future instant instead of overflowing (durations come from
/// configuration and may be absurdly large).
pub(crate) fn saturating_after(from: tokio::time::Instant, d: Duration) -> tokio::time::Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 86_400);
    from.checked_add(d)
        .or_else(|| from.checked_add(FAR))
        .unwrap_or(from)
}

/// Difficulty-1 work: expected hashes per share at difficulty 1.
pub const HASHES_PER_DIFF1: f64 = 4_294_967_296.0;

/// Draws an exponentially distributed delay with the given rate (events per second);
/// `u` is a uniform sample in `[0, 1)`.
pub fn exponential_delay(rate: f64, u: f64) -> Duration {
    if rate.is_nan() || rate <= 0.0 || rate.is_infinite() {
        return Duration::MAX;
    }
    let secs = -(1.0 - u.clamp(0.0, 1.0 - f64::EPSILON)).ln() / rate;
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashrates() {
        assert_eq!(parse_hashrate("1500"), Ok(1500.0));
        assert_eq!(parse_hashrate("2.5M"), Ok(2.5e6));
        assert_eq!(parse_hashrate("100T"), Ok(1e14));
        assert_eq!(parse_hashrate("10 GH/s"), Ok(1e10));
        assert_eq!(parse_hashrate("3kh/s"), Ok(3e3));
        assert_eq!(parse_hashrate("1e3"), Ok(1e3));
        assert!(parse_hashrate("-1").is_err());
        assert!(parse_hashrate("fast").is_err());
        assert!(parse_hashrate("5X").is_err());
        assert!(parse_hashrate("").is_err());
        assert!(parse_hashrate("NaN").is_err());
    }

    #[test]
    fn host_port() {
        assert_eq!(
            split_host_port("pool.example:3333").unwrap(),
            ("pool.example".into(), 3333)
        );
        assert_eq!(
            split_host_port("[::1]:34254").unwrap(),
            ("::1".into(), 34254)
        );
        assert!(split_host_port("nohost").is_err());
        assert!(split_host_port(":1").is_err());
        assert!(split_host_port("h:99999").is_err());
        assert_eq!(join_host_port("::1", 1), "[::1]:1");
        assert_eq!(reconnect_target("a:1", None, None), "a:1");
        assert_eq!(reconnect_target("a:1", Some(""), Some(0)), "a:1");
        assert_eq!(reconnect_target("a:1", Some("b"), None), "b:1");
        assert_eq!(reconnect_target("a:1", None, Some(7)), "a:7");
    }

    #[test]
    fn saturating_deadlines() {
        let now = tokio::time::Instant::now();
        assert_eq!(
            saturating_after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert!(saturating_after(now, Duration::MAX) > now + Duration::from_secs(86_400 * 365));
    }

    #[test]
    fn exponential_delays() {
        assert_eq!(exponential_delay(0.0, 0.5), Duration::MAX);
        assert_eq!(exponential_delay(1.0, 0.0), Duration::ZERO);
        let median = exponential_delay(2.0, 0.5).as_secs_f64();
        assert!((median - std::f64::consts::LN_2 / 2.0).abs() < 1e-9);
        assert!(exponential_delay(1.0, 1.0) < Duration::from_secs(100));
    }
}
