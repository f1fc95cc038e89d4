//! Browser-only: what makes the page move once hydrated, compiled with the
//! `hydrate` feature only. The listeners here act on HTML the server
//! rendered (`ui/server/`), found by the marks of [`crate::ui::markup`];
//! the router's and the charts' halves that need the DOM live here too.

pub mod body;
pub mod charts;
pub mod limits;
pub mod router;
pub mod table;
