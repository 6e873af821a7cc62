//! The floor of a resolve, for `bench/bench.py`: one process start and one request of a
//! minimal client, with the TLS stack fetch-env uses (rustls with ring) and nothing else: no
//! runtime, no SDK, no signing, no system certificate store (the one CA it is given).
//!
//! usage: floor URL X-AMZ-TARGET BODY [CA_FILE]
//!
//! Sends `BODY` as a JSON request for the operation `X-AMZ-TARGET` to `URL` (`http://` or
//! `https://` and an IP address), prints the answer's body and exits 0 on a 200 answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, target, body, rest @ ..] = args.as_slice() else {
        return Err("usage: floor URL X-AMZ-TARGET BODY [CA_FILE]".into());
    };
    let (tls, authority) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => return Err(format!("{url}: not an http:// or https:// URL")),
    };
    let authority = authority.trim_end_matches('/');
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    let tcp = TcpStream::connect(authority).map_err(|e| format!("{authority}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nX-Amz-Target: {target}\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/eu-central-1/ssm/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = if tls {
        let ca = rest.first().ok_or("an https:// URL needs CA_FILE")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{ca}: {e}"))? {
            roots
                .add(cert.map_err(|e| format!("{ca}: {e}"))?)
                .map_err(|e| format!("{ca}: {e}"))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("{host}: {e}"))?;
        let connection =
            rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        exchange(rustls::StreamOwned::new(connection, tcp), &request)?
    } else {
        exchange(tcp, &request)?
    };
    std::io::stdout()
        .write_all(&answer)
        .map_err(|e| e.to_string())
}

/// Writes the request and reads one answer: its head, then Content-Length bytes of body.
fn exchange(mut stream: impl Read + Write, request: &str) -> Result<Vec<u8>, String> {
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).map_err(|e| e.to_string())?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| "a bad Content-Length")?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!(
            "{}: {}",
            status.trim_end(),
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(body)
}
