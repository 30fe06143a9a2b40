//! Storage spans and metrics.
