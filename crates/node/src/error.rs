//! The one place where engine errors become JS errors.
//!
//! napi-rs does not yet carry a custom `code` through `Task` rejections (napi-rs issues #2333,
//! #1632), so the code travels as a message prefix, `ERR_X: message`, which `src/native.ts`
//! parses into a `LibraVDBError` subclass with `.code`.

use std::error::Error as _;

use libravdb_engine::{Error, ErrorCode};

/// Converts an engine error, appending its chain of causes to the message.
pub fn to_napi(e: Error) -> napi::Error {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    coded(e.code(), &message)
}

/// A JS error carrying `code` as its message prefix.
pub fn coded(code: ErrorCode, message: &str) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("{}: {message}", code.as_str()))
}

/// Converts a caught panic payload into an `ERR_INTERNAL` error.
pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> napi::Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    coded(ErrorCode::Internal, &format!("a panic was caught in the native engine: {what}"))
}
