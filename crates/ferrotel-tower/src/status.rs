//! gRPC status codes as they reach the wire, and which of them are errors on which side.

use http::HeaderMap;

/// A gRPC status code, as carried by the `grpc-status` header or trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrpcCode(pub i32);

impl GrpcCode {
    /// `OK`.
    pub const OK: GrpcCode = GrpcCode(0);
    /// `CANCELLED`: what a call that was dropped before its end becomes.
    pub const CANCELLED: GrpcCode = GrpcCode(1);
    /// `UNKNOWN`: a transport failure or an unreadable status.
    pub const UNKNOWN: GrpcCode = GrpcCode(2);

    /// Reads `grpc-status` from headers or trailers.
    pub fn from_headers(headers: &HeaderMap) -> Option<GrpcCode> {
        const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
        let value = headers.get(GRPC_STATUS)?;
        let code = value.to_str().ok()?.trim().parse::<i32>().ok()?;
        Some(GrpcCode(code))
    }

    /// The name the semantic conventions use, e.g. `NOT_FOUND`.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "OK",
            1 => "CANCELLED",
            2 => "UNKNOWN",
            3 => "INVALID_ARGUMENT",
            4 => "DEADLINE_EXCEEDED",
            5 => "NOT_FOUND",
            6 => "ALREADY_EXISTS",
            7 => "PERMISSION_DENIED",
            8 => "RESOURCE_EXHAUSTED",
            9 => "FAILED_PRECONDITION",
            10 => "ABORTED",
            11 => "OUT_OF_RANGE",
            12 => "UNIMPLEMENTED",
            13 => "INTERNAL",
            14 => "UNAVAILABLE",
            15 => "DATA_LOSS",
            16 => "UNAUTHENTICATED",
            _ => "UNKNOWN",
        }
    }

    /// Server side: only these codes mean the server failed; the others are the caller's
    /// problem and leave the span status unset.
    pub fn is_server_error(self) -> bool {
        matches!(self.0, 2 | 4 | 12 | 13 | 14 | 15)
    }

    /// Client side: every code but `OK` is an error.
    pub fn is_client_error(self) -> bool {
        self.0 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_and_client_error_rules() {
        let server_errors: Vec<&str> = (0..17)
            .map(GrpcCode)
            .filter(|c| c.is_server_error())
            .map(GrpcCode::name)
            .collect();
        assert_eq!(
            server_errors,
            [
                "UNKNOWN",
                "DEADLINE_EXCEEDED",
                "UNIMPLEMENTED",
                "INTERNAL",
                "UNAVAILABLE",
                "DATA_LOSS"
            ]
        );
        assert!(!GrpcCode(5).is_server_error());
        assert!(GrpcCode(5).is_client_error());
        assert!(!GrpcCode::OK.is_client_error());
    }

    #[test]
    fn reads_the_status_header_and_rejects_garbage() {
        let mut headers = HeaderMap::new();
        assert_eq!(GrpcCode::from_headers(&headers), None);
        headers.insert(
            "grpc-status",
            "5".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(GrpcCode::from_headers(&headers), Some(GrpcCode(5)));
        headers.insert(
            "grpc-status",
            "five".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(GrpcCode::from_headers(&headers), None);
    }
}
