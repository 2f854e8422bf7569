//! The provider's API: UserSig, wire types, error classes and the HTTP client.

pub mod client;
pub mod errors;
pub mod usersig;
pub mod wire;
