//! The HTTP side: the transport (`http`, `server`, `wire`, `gate`, `tls`), the guest portal (`portal/`) and the owner
//! page (`admin/`). Handlers call the app layer; the transport knows no page module.

pub mod admin;
pub(crate) mod body;
pub(crate) mod gate;
pub mod http;
pub mod portal;
pub(crate) mod server;
#[cfg(feature = "tls-portal")]
pub(crate) mod tls;
pub(crate) mod wire;
