//! The scenarios: what each sends, how long by default, and what the
//! documented Odoo call sequence for it is (src/pipeline/mod.rs).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use clap::ValueEnum;
use influence_gen_testkit::images;

use crate::drive::Stop;

/// A load scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Failure payloads (~260 bytes), each for a request of its own.
    #[value(name = "small-failure")]
    SmallFailure,
    /// Successes with a ~1 MB PNG inline as base64, each for its own request.
    #[value(name = "image-1mb")]
    Image1Mb,
    /// Successes with a ~10 MB PNG inline as base64, each for its own request.
    #[value(name = "image-10mb")]
    Image10Mb,
    /// Successes with an `image_url` on a loopback image host (~100 KB PNG).
    #[value(name = "image-url")]
    ImageUrl,
    /// The same already-applied success re-sent (each connection its own).
    #[value(name = "duplicates")]
    Duplicates,
}

/// Approximate image sizes, in bytes.
const IMAGE_1MB_BYTES: usize = 1_000_000;
const IMAGE_10MB_BYTES: usize = 10_000_000;
const IMAGE_URL_BYTES: usize = 100_000;
/// The image of the duplicates scenario: a small, real generation result.
const DUPLICATE_SIDE_PX: u32 = 256;

impl Scenario {
    /// Every scenario, in the order a full run takes them.
    pub const ALL: [Scenario; 5] = [
        Self::SmallFailure,
        Self::Image1Mb,
        Self::Image10Mb,
        Self::ImageUrl,
        Self::Duplicates,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::SmallFailure => "small-failure",
            Self::Image1Mb => "image-1mb",
            Self::Image10Mb => "image-10mb",
            Self::ImageUrl => "image-url",
            Self::Duplicates => "duplicates",
        }
    }

    /// Concurrent connections unless `--connections` says otherwise.
    pub fn default_connections(self) -> usize {
        match self {
            Self::SmallFailure | Self::Duplicates => 32,
            Self::Image1Mb | Self::ImageUrl => 8,
            Self::Image10Mb => 4,
        }
    }

    /// How long a run is unless `--duration`/`--count` says otherwise. The
    /// image scenarios count, because the emulator keeps every attachment
    /// in memory.
    pub fn default_stop(self) -> Stop {
        match self {
            Self::SmallFailure => Stop::After(Duration::from_secs(20)),
            Self::Duplicates => Stop::After(Duration::from_secs(15)),
            Self::Image1Mb => Stop::Count(1_500),
            Self::Image10Mb => Stop::Count(100),
            Self::ImageUrl => Stop::Count(2_000),
        }
    }

    /// Odoo calls per callback in the sequence `src/pipeline/mod.rs` documents.
    pub fn documented_calls(self) -> u64 {
        match self {
            Self::SmallFailure => 3,
            Self::Image1Mb | Self::Image10Mb | Self::ImageUrl => 7,
            Self::Duplicates => 2,
        }
    }

    /// The image this scenario sends, if any (a PNG of noise, which does not
    /// compress, so its size is what was asked for).
    pub fn image(self) -> Option<Vec<u8>> {
        match self {
            Self::SmallFailure => None,
            Self::Image1Mb => Some(images::png_of_size(IMAGE_1MB_BYTES)),
            Self::Image10Mb => Some(images::png_of_size(IMAGE_10MB_BYTES)),
            Self::ImageUrl => Some(images::png_of_size(IMAGE_URL_BYTES)),
            Self::Duplicates => Some(images::png(DUPLICATE_SIDE_PX, DUPLICATE_SIDE_PX)),
        }
    }
}

/// What a scenario's callbacks carry.
pub enum Payload {
    /// A failure, numbered so that every one is new.
    Failure,
    /// A success with this base64 image inline.
    Inline { base64: Bytes, image_bytes: usize },
    /// A success pointing at this URL.
    Url { url: String, image_bytes: usize },
    /// Prepared bodies re-sent as they are, one per connection.
    Resend {
        bodies: Vec<Bytes>,
        image_bytes: usize,
    },
}

impl Payload {
    /// An inline success of `image`.
    pub fn inline(image: &[u8]) -> Self {
        Self::Inline {
            base64: Bytes::from(STANDARD.encode(image)),
            image_bytes: image.len(),
        }
    }

    /// Bytes of image each callback carries or makes the daemon download.
    pub fn image_bytes(&self) -> usize {
        match self {
            Self::Failure => 0,
            Self::Inline { image_bytes, .. }
            | Self::Url { image_bytes, .. }
            | Self::Resend { image_bytes, .. } => *image_bytes,
        }
    }

    /// The body of callback number `n`, for request `id`, as chunks.
    pub fn body(&self, id: i64, n: usize, connection: usize) -> Vec<Bytes> {
        match self {
            Self::Failure => vec![Bytes::from(failure_body(id, n))],
            Self::Inline { base64, .. } => inline_body(id, base64),
            Self::Url { url, .. } => vec![Bytes::from(format!(
                r#"{{"ai_generation_request_id":"{id}","result_payload":{{"status":"success","data":{{"image_url":"{url}","file_format":"png","mimetype":"image/png"}}}}}}"#
            ))],
            Self::Resend { bodies, .. } => vec![bodies[connection % bodies.len()].clone()],
        }
    }
}

/// A failure payload as N8N's error branch sends it.
fn failure_body(id: i64, n: usize) -> String {
    format!(
        r#"{{"ai_generation_request_id":"{id}","result_payload":{{"status":"failure","error_data":{{"message":"The image model did not answer (load test callback {n})","details":"POST https://api.example.com/v1/images: 504 Gateway Timeout after 120 s; attempt 3 of 3"}}}}}}"#
    )
}

/// A success with the image inline: the shared base64 between two small chunks.
pub fn inline_body(id: i64, base64: &Bytes) -> Vec<Bytes> {
    let head = format!(
        r#"{{"ai_generation_request_id":"{id}","result_payload":{{"status":"success","data":{{"file_format":"png","mimetype":"image/png","image_data":""#
    );
    vec![
        Bytes::from(head),
        base64.clone(),
        Bytes::from_static(br#""}}}"#),
    ]
}
