//! Source addresses for many connections to one destination.
//!
//! A TCP connection is identified by (source ip, source port, destination ip, destination
//! port). Towards a single pool address one source IP offers only the ephemeral port range
//! (about 28 000 ports by default), so beyond that the load generator binds each socket to a
//! further loopback address (`127.0.0.2`, `127.0.0.3`, ... — all of `127.0.0.0/8` is local on
//! Linux) before connecting.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};

/// Connections given to one source address before moving to the next (below the default
/// ephemeral range of 28 232 ports, leaving room for other programs).
pub const DEFAULT_PER_SOURCE: usize = 20_000;

/// Chooses the source address of each connection.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    sources: Vec<IpAddr>,
    per_source: usize,
}

impl SourcePlan {
    /// Enough loopback sources for `connections` towards `dest`, `per_source` each. For a
    /// loopback destination the sources are `127.0.0.1`, `127.0.0.2`, ...; otherwise the
    /// kernel chooses (one unbound source), since other addresses would not route.
    pub fn for_destination(dest: SocketAddr, connections: usize, per_source: usize) -> Self {
        let per_source = per_source.max(1);
        if !dest.ip().is_loopback() || !dest.is_ipv4() {
            return SourcePlan {
                sources: Vec::new(),
                per_source,
            };
        }
        let needed = connections.div_ceil(per_source).clamp(1, 250);
        let sources = (1..=needed)
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i as u8)))
            .collect();
        SourcePlan {
            sources,
            per_source,
        }
    }

    /// Explicit source addresses, used round-robin in blocks of `per_source`.
    pub fn explicit(sources: Vec<IpAddr>, per_source: usize) -> Self {
        SourcePlan {
            sources,
            per_source: per_source.max(1),
        }
    }

    /// The source address of connection `index` (`None`: let the kernel choose).
    pub fn source(&self, index: usize) -> Option<IpAddr> {
        if self.sources.is_empty() {
            return None;
        }
        let block = (index / self.per_source) % self.sources.len();
        self.sources.get(block).copied()
    }

    /// Number of distinct source addresses (0: kernel's choice).
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// True when the kernel chooses the source.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// Linux `IP_BIND_ADDRESS_NO_PORT`: a bind to port 0 leaves choosing the port to `connect`,
/// which then only needs the whole 4-tuple to be unique. Without it each bound socket takes a
/// port of its source address for itself (and, after closing, keeps it in TIME_WAIT away from
/// every later connection from that address). Best effort: older kernels ignore it.
fn defer_port_choice(socket: &TcpSocket) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads `one` for the given length; the fd is owned by `socket`.
        let _ = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

/// Opens a TCP connection to `dest`, bound to `source` first when given, within `timeout`.
/// Nagle is switched off (SV2 frames are small).
pub async fn connect_from(
    source: Option<IpAddr>,
    dest: SocketAddr,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let socket = match dest {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(ip) = source {
        defer_port_choice(&socket);
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let tcp = tokio::time::timeout(timeout, socket.connect(dest))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_enough_loopback_sources() {
        let dest: SocketAddr = "127.0.0.1:34254".parse().unwrap();
        let p = SourcePlan::for_destination(dest, 50_000, DEFAULT_PER_SOURCE);
        assert_eq!(p.len(), 3);
        assert_eq!(p.source(0), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(p.source(19_999), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(p.source(20_000), Some("127.0.0.2".parse().unwrap()));
        assert_eq!(p.source(49_999), Some("127.0.0.3".parse().unwrap()));
        let remote: SocketAddr = "10.1.2.3:34254".parse().unwrap();
        let p = SourcePlan::for_destination(remote, 50_000, DEFAULT_PER_SOURCE);
        assert!(p.is_empty());
        assert_eq!(p.source(7), None);
        let p = SourcePlan::explicit(
            vec!["127.0.0.5".parse().unwrap(), "127.0.0.6".parse().unwrap()],
            2,
        );
        let got: Vec<_> = (0..5).map(|i| p.source(i).unwrap().to_string()).collect();
        assert_eq!(
            got,
            [
                "127.0.0.5",
                "127.0.0.5",
                "127.0.0.6",
                "127.0.0.6",
                "127.0.0.5"
            ]
        );
    }

    #[tokio::test]
    async fn connects_from_a_second_loopback_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dest = listener.local_addr().unwrap();
        let src: IpAddr = "127.0.0.2".parse().unwrap();
        let (client, accepted) = tokio::join!(
            connect_from(Some(src), dest, Duration::from_secs(5)),
            listener.accept()
        );
        let client = client.unwrap();
        assert_eq!(client.local_addr().unwrap().ip(), src);
        assert_eq!(accepted.unwrap().1.ip(), src);
    }
}
