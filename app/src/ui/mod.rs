//! The dashboard's screens: one file per screen and per concern.

pub mod alerts;
pub mod body;
pub mod chart;
pub mod conversations;
pub mod credits;
pub mod data;
pub mod errors;
pub mod filters;
pub mod form;
pub mod header;
pub mod limits;
pub mod location;
pub mod nav;
pub mod period;
pub mod plan;
pub mod shell;
pub mod table;
