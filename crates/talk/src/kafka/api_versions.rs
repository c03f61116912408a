//! Asks a Kafka broker which requests it understands: Kafka's `ApiVersions` request, written by
//! hand. You can skip this module; [`crate::kafka::group_protocol`] says what it is for.
//!
//! Why by hand, when librdkafka speaks Kafka's protocol for us? librdkafka sends `ApiVersions`
//! to every broker it connects to, but keeps the answer to itself: neither librdkafka's API nor
//! rdkafka's exposes it. And the answer is needed *before* a consumer is created: a consumer
//! that asks for KIP-848's group protocol on a broker that lacks it reports nothing at all (no
//! error event, no error from `recv`, one librdkafka debug line) and waits forever.
//!
//! `ApiVersions` is the simplest request there is, which is why writing it here is reasonable:
//! version 0 has no body, and every Kafka since 0.10 answers it, even before authentication.
//! This speaks plaintext only, like the rest of the workbook (it has no TLS or SASL settings).
//!
//! The bytes, all integers big-endian (the Kafka protocol guide,
//! <https://kafka.apache.org/protocol#The_Messages_ApiVersions>):
//!
//! ```text
//! request:  size:i32 | api_key=18:i16 | api_version=0:i16 | correlation_id:i32 | client_id:i16 length + bytes
//! response: size:i32 | correlation_id:i32 | error_code:i16 | count:i32 | count × (api_key:i16 | min:i16 | max:i16)
//! ```

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// `ApiVersions`' own API key.
const API_VERSIONS: i16 = 18;

/// The correlation id of our one request; the answer must carry it back.
const CORRELATION_ID: i32 = 42;

/// How we introduce ourselves to the broker (it may show in its logs).
const CLIENT_ID: &str = "tracing-talk-probe";

/// The largest answer we accept. A real one is well under 1 KiB (about 70 APIs × 6 bytes); a
/// size beyond this means the other end is not speaking Kafka's protocol.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// One request the broker understands, and the versions of it that it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    /// The request's API key, e.g. 68 for `ConsumerGroupHeartbeat`.
    pub key: i16,
    /// The oldest version the broker accepts.
    pub min: i16,
    /// The newest version the broker accepts.
    pub max: i16,
}

impl ApiRange {
    /// Whether the broker accepts `version` of this request.
    pub fn accepts(&self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }
}

/// Asks the broker at `address` (`host:port`) which requests it understands. Blocks for at most
/// about `timeout` per step (connect, send, receive): call it off the async threads.
pub fn ask(address: &str, timeout: Duration) -> Result<Vec<ApiRange>, String> {
    let socket = address
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {address}: {error}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&socket, timeout)
        .map_err(|error| format!("cannot connect to {address}: {error}"))?;
    let io = |error: std::io::Error| format!("talking to {address}: {error}");
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;

    stream.write_all(&request()).map_err(io)?;
    let mut size = [0; 4];
    stream.read_exact(&mut size).map_err(io)?;
    let size = i32::from_be_bytes(size);
    let size = usize::try_from(size)
        .ok()
        .filter(|&size| size <= MAX_RESPONSE_BYTES)
        .ok_or_else(|| format!("{address} answered with a size of {size}: is it Kafka?"))?;
    let mut response = vec![0; size];
    stream.read_exact(&mut response).map_err(io)?;
    parse(&response).map_err(|error| format!("{address} answered ApiVersions oddly: {error}"))
}

/// The request's bytes, size prefix included.
pub fn request() -> Vec<u8> {
    let mut message = Vec::new();
    message.extend_from_slice(&API_VERSIONS.to_be_bytes());
    message.extend_from_slice(&0_i16.to_be_bytes()); // version 0: no body after the header
    message.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    // A string in the request header is an i16 length, then the bytes.
    let client_id = CLIENT_ID.as_bytes();
    message.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    message.extend_from_slice(client_id);

    let mut bytes = (message.len() as i32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&message);
    bytes
}

/// Reads a response, without its size prefix.
pub fn parse(response: &[u8]) -> Result<Vec<ApiRange>, String> {
    let mut reader = Reader(response);
    let correlation_id = reader.i32()?;
    if correlation_id != CORRELATION_ID {
        return Err(format!(
            "correlation id {correlation_id}, not {CORRELATION_ID}"
        ));
    }
    let error_code = reader.i16()?;
    if error_code != 0 {
        return Err(format!("error code {error_code}"));
    }
    let count = reader.i32()?;
    let mut ranges = Vec::new();
    for _ in 0..count {
        ranges.push(ApiRange {
            key: reader.i16()?,
            min: reader.i16()?,
            max: reader.i16()?,
        });
    }
    Ok(ranges)
}

/// Big-endian integers off the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let Some((head, rest)) = self.0.split_first_chunk::<N>() else {
            return Err("the answer ends too soon".into());
        };
        self.0 = rest;
        Ok(*head)
    }

    fn i16(&mut self) -> Result<i16, String> {
        self.take().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, String> {
        self.take().map(i32::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_header_and_nothing_else() {
        let bytes = request();
        let size = i32::from_be_bytes(bytes[..4].try_into().unwrap());
        assert_eq!(size as usize, bytes.len() - 4);
        assert_eq!(&bytes[4..8], &[0, 18, 0, 0], "api key 18, version 0");
        assert_eq!(&bytes[8..12], &42_i32.to_be_bytes());
        assert_eq!(&bytes[12..14], &(CLIENT_ID.len() as i16).to_be_bytes());
        assert_eq!(&bytes[14..], CLIENT_ID.as_bytes());
    }

    #[test]
    fn a_response_lists_each_api_with_its_versions() {
        let mut response = Vec::new();
        response.extend_from_slice(&42_i32.to_be_bytes());
        response.extend_from_slice(&0_i16.to_be_bytes());
        response.extend_from_slice(&2_i32.to_be_bytes());
        for value in [18_i16, 0, 3, 68, 0, 1] {
            response.extend_from_slice(&value.to_be_bytes());
        }
        let ranges = parse(&response).unwrap();
        assert_eq!(
            ranges,
            [
                ApiRange {
                    key: 18,
                    min: 0,
                    max: 3
                },
                ApiRange {
                    key: 68,
                    min: 0,
                    max: 1
                },
            ]
        );
        assert!(ranges[1].accepts(1) && !ranges[1].accepts(2));
    }

    #[test]
    fn a_short_or_failed_response_is_an_error() {
        assert!(parse(&42_i32.to_be_bytes()).is_err());
        let mut failed = 42_i32.to_be_bytes().to_vec();
        failed.extend_from_slice(&35_i16.to_be_bytes()); // UNSUPPORTED_VERSION
        failed.extend_from_slice(&0_i32.to_be_bytes());
        assert_eq!(parse(&failed), Err("error code 35".into()));
    }
}
