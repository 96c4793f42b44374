//! Package-manager backends: which table commands an operation needs, and what their output means.
//! Only apt exists in this version; the other families are refused at start by [`crate::detect`].

pub mod apt;
