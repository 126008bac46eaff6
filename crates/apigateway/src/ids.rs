//! Resource identifiers in API Gateway's shapes.

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A random lowercase alphanumeric id: 10 characters for APIs, 7 for
/// routes, integrations, stages' deployments and authorizers.
pub fn new_id(len: usize) -> String {
    (0..len).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect()
}

/// API ids are 10 characters.
pub fn api_id() -> String {
    new_id(10)
}

/// Child resources (routes, integrations, deployments, authorizers) use 7.
pub fn child_id() -> String {
    new_id(7)
}
