//! `sv2-keys`: generate SV2 authority keys and pre-issued server certificates.
//!
//! Keys are printed as TOML lines in the encoding SRI configs use (base58check; public keys
//! carry the `[1, 0]` version prefix), so they can be pasted into either implementation's
//! config files.

use std::io::{self, BufRead};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sv2_noise::keys::{
    decode_secret_key, encode_public_key, encode_secret_key, generate_secret_key,
    issue_certificate, public_key_of,
};
use sv2_noise::secp256k1::{Keypair, Secp256k1};
use sv2_noise::unix_now;

#[derive(Parser)]
#[command(
    name = "sv2-keys",
    version,
    about = "Generate Stratum V2 authority keys and server certificates",
    long_about = "Generate Stratum V2 authority keys and server certificates.\n\n\
        Two deployment models are supported:\n  \
        * the server holds the authority secret and signs a fresh certificate per connection\n    \
          (SRI's model): run `sv2-keys authority` and configure the server with both keys;\n  \
        * the authority secret stays offline: run `sv2-keys authority` once, then\n    \
          `sv2-keys certificate` to issue a static key + certificate for the server.\n\
        Clients (miners, proxies) only need `authority_public_key`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a new authority keypair.
    Authority,
    /// Issue a server static keypair and a certificate signed by the authority.
    Certificate {
        /// Authority secret key (base58check), or `-` to read it from stdin.
        #[arg(long, value_name = "KEY")]
        authority_secret: String,
        /// Validity period in days, starting now.
        #[arg(long, default_value_t = 90, value_name = "N")]
        valid_days: u32,
    },
    /// Print the public key belonging to a secret key.
    PublicKey {
        /// Secret key (base58check), or `-` to read it from stdin.
        #[arg(long, value_name = "KEY")]
        secret: String,
    },
}

fn read_secret(arg: &str) -> Result<String, String> {
    if arg != "-" {
        return Ok(arg.to_string());
    }
    let mut line = String::new();
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading stdin: {e}"))?;
    Ok(line.trim().to_string())
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Authority => {
            let secret = generate_secret_key();
            println!("# Stratum V2 authority keypair. Publish the public key; keep the secret key private.");
            println!(
                "authority_public_key = \"{}\"",
                encode_public_key(&public_key_of(&secret))
            );
            println!("authority_secret_key = \"{}\"", encode_secret_key(&secret));
        }
        Command::Certificate {
            authority_secret,
            valid_days,
        } => {
            if valid_days == 0 {
                return Err("--valid-days must be at least 1".into());
            }
            let secret = decode_secret_key(&read_secret(&authority_secret)?)
                .map_err(|e| format!("--authority-secret: {e}"))?;
            let authority = Keypair::from_secret_key(&Secp256k1::new(), &secret);
            let validity = Duration::from_secs(u64::from(valid_days) * 86_400);
            let (static_secret, cert) = issue_certificate(&authority, unix_now(), validity);
            println!(
                "# Server static key and certificate, valid from unix time {} to {}.",
                cert.valid_from, cert.not_valid_after
            );
            println!(
                "authority_public_key = \"{}\"",
                encode_public_key(&authority.x_only_public_key().0)
            );
            println!(
                "server_public_key = \"{}\"",
                encode_public_key(&public_key_of(&static_secret))
            );
            println!(
                "server_secret_key = \"{}\"",
                encode_secret_key(&static_secret)
            );
            println!("server_certificate = \"{}\"", cert.to_hex());
        }
        Command::PublicKey { secret } => {
            let secret =
                decode_secret_key(&read_secret(&secret)?).map_err(|e| format!("--secret: {e}"))?;
            println!("{}", encode_public_key(&public_key_of(&secret)));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sv2-keys: {e}");
            ExitCode::FAILURE
        }
    }
}
