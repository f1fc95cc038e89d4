//! The dashboard's screens: one file per screen and per concern.

pub mod conversations;
pub mod credits;
pub mod header;
pub mod plan;
pub mod shell;
