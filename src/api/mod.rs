//! The provider's API: UserSig, wire types, error classes and the HTTP client.

pub mod usersig;
pub mod wire;
