//! The store (in progress).
