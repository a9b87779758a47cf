//! UCI parser (being written).
