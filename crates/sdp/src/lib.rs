//! SDP model and offer/answer (in progress).
#![forbid(unsafe_code)]
