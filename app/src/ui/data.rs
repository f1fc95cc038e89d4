//! Data for the components the browser hydrates (the header, the banner
//! and the Plan tab share the overview): a resource loaded by a server
//! function on the server and in the browser, and carried in the page for
//! hydration. The chart tabs' bodies come as HTML instead (`ui/body.rs`).
//!
//! The data travels as JSON on both of its paths (the server function's
//! response and the resource's hydration data), and both read it from
//! bytes with `serde_json::from_slice`: the server function's decoder does,
//! and [`JsonBytes`] does the same for the resource. Reading one from a
//! `&str` instead would put a second deserializer of every view type into
//! the browser's bundle (about 90 KB of WASM before optimisation).

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::DashboardError;

/// JSON text, decoded from its bytes.
pub struct JsonBytes;

impl<T: Serialize> Encoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &T) -> Result<Self::Encoded, Self::Error> {
        serde_json::to_string(val)
    }
}

impl<T: DeserializeOwned> Decoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &Self::Encoded) -> Result<T, Self::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A tab's data, or why it could not be loaded.
pub type TabData<T> = Resource<Result<T, DashboardError>, JsonBytes>;

/// The data of a tab for each value of `source` (the page's query string).
#[track_caller]
pub fn tab_data<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> TabData<T>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, DashboardError>> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
