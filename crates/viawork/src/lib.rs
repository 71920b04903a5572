//! ViaWork, the server: configuration, the SIP service and the runtime that ties the SIP
//! stack to them. The binary in `main.rs` is a thin command line over this library.
#![forbid(unsafe_code)]

pub mod api;
pub mod calls;
pub mod cli;
pub mod config;
pub mod demo;
pub mod deskphone;
pub mod directory_cache;
pub mod domain;
pub mod events;
pub mod fd_limit;
pub mod forwarding;
pub mod im;
pub mod incoming;
pub mod lab;
pub mod meetings;
pub mod people;
pub mod presence;
pub mod registrar;
pub mod server;
pub mod sip_service;
pub mod store;
