//! Per-operation sampling rules for root spans.
