use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http::{HeaderMap, HeaderValue, header};
use http_body_util::StreamBody;
use hyper::body::Frame;

use super::{BodyError, read};

const LIMIT: u64 = 64;
const TIMEOUT: Duration = Duration::from_secs(5);

type Framed = Result<Frame<Bytes>, std::io::Error>;
type Frames = Vec<Framed>;
type Replayed = StreamBody<stream::Iter<std::vec::IntoIter<Framed>>>;

fn body(frames: Frames) -> Replayed {
    StreamBody::new(stream::iter(frames))
}

fn data(chunks: &[&'static [u8]]) -> Frames {
    chunks
        .iter()
        .map(|chunk| Ok(Frame::data(Bytes::from_static(chunk))))
        .collect()
}

fn declaring(length: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers
}

#[tokio::test]
async fn frames_are_joined_in_order() {
    let frames = data(&[b"{\"a\":", b" 1", b"}"]);
    let got = read(body(frames), &declaring(8), LIMIT, TIMEOUT).await;
    assert_eq!(got.unwrap(), Bytes::from_static(b"{\"a\": 1}"));
}

#[tokio::test]
async fn a_length_that_lies_low_still_reads_everything() {
    let frames = data(&[b"0123456789", b"abcdef"]);
    let got = read(body(frames), &declaring(3), LIMIT, TIMEOUT).await;
    assert_eq!(got.unwrap(), Bytes::from_static(b"0123456789abcdef"));
}

#[tokio::test]
async fn an_empty_body_is_empty() {
    let got = read(body(Vec::new()), &HeaderMap::new(), LIMIT, TIMEOUT).await;
    assert_eq!(got.unwrap(), Bytes::new());
}

#[tokio::test]
async fn trailers_are_ignored() {
    let mut frames = data(&[b"ab", b"cd"]);
    frames.push(Ok(Frame::trailers(HeaderMap::new())));
    let got = read(body(frames), &HeaderMap::new(), LIMIT, TIMEOUT).await;
    assert_eq!(got.unwrap(), Bytes::from_static(b"abcd"));
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_reading() {
    let never = StreamBody::new(stream::pending::<Framed>());
    let got = read(never, &declaring(LIMIT + 1), LIMIT, TIMEOUT).await;
    assert_eq!(got, Err(BodyError::TooLarge { limit: LIMIT }));
}

#[tokio::test]
async fn a_body_growing_past_the_limit_is_refused() {
    let frames = data(&[&[b'x'; 40], &[b'x'; 40]]);
    let got = read(body(frames), &HeaderMap::new(), LIMIT, TIMEOUT).await;
    assert_eq!(got, Err(BodyError::TooLarge { limit: LIMIT }));
    let exactly = data(&[&[b'x'; 32], &[b'x'; 32]]);
    let got = read(body(exactly), &HeaderMap::new(), LIMIT, TIMEOUT).await;
    assert_eq!(got.unwrap().len(), 64);
}

#[tokio::test]
async fn a_broken_body_is_unreadable() {
    let mut frames = data(&[b"ab"]);
    frames.push(Err(std::io::Error::other("reset")));
    let got = read(body(frames), &HeaderMap::new(), LIMIT, TIMEOUT).await;
    assert_eq!(got, Err(BodyError::Unreadable));
}

#[tokio::test(start_paused = true)]
async fn a_body_that_stalls_times_out() {
    let stalls = StreamBody::new(stream::iter(data(&[b"ab"])).chain(stream::pending()));
    let got = read(stalls, &declaring(4), LIMIT, TIMEOUT).await;
    assert_eq!(got, Err(BodyError::TimedOut));
}

#[test]
fn each_error_has_its_status() {
    assert_eq!(BodyError::TooLarge { limit: 1 }.status(), 413);
    assert_eq!(BodyError::TimedOut.status(), 408);
    assert_eq!(BodyError::Unreadable.status(), 400);
}
