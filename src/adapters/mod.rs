//! One adapter per outside system, each behind a small trait with a real and a fake: the
//! kernel firewall (`nft`), dnsmasq, the DNS responder, the neighbour table, the HTTPS client,
//! Daraja, the Daraja simulator's server, health readings, processes and files (`sys`), and the
//! ubusd connection. Adapters import only the core (`tests/it/layers.rs`).

#[cfg(feature = "airtel")]
pub mod airtel;
#[cfg(all(feature = "airtel", feature = "simulator"))]
pub mod airtel_sim;
#[cfg(feature = "clickpesa")]
pub mod clickpesa;
#[cfg(all(feature = "clickpesa", feature = "simulator"))]
pub mod clickpesa_sim;
pub mod daraja;
pub(crate) mod dns;
pub(crate) mod dnsmasq;
pub mod guest_network;
pub(crate) mod health;
pub mod https;
pub mod neighbours;
pub mod nft;
#[cfg(feature = "radius")]
pub mod radius;
#[cfg(feature = "radius")]
pub mod radius_acct;
#[cfg(feature = "radius")]
pub mod radius_das;
#[cfg(feature = "radsec")]
pub mod radsec;
pub(crate) mod sim_gateway;
#[cfg(feature = "simulator")]
pub mod simulator;
#[cfg(not(feature = "simulator"))]
#[path = "simulator_absent.rs"]
pub mod simulator;
pub mod sys;
#[doc(hidden)]
pub mod testing;
pub(crate) mod token_cache;
pub mod ubusd;
#[cfg(feature = "vodacom")]
pub mod vodacom;
#[cfg(all(feature = "vodacom", feature = "simulator"))]
pub mod vodacom_sim;
