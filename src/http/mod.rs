//! The HTTP adapters: the developer API, the pages, Meta's and Stripe's webhooks coming in, the
//! Prometheus metrics, and the built-in sandbox that stands in for Meta. They turn requests into calls
//! to `services` and answers; nothing below imports them.

pub mod api;
pub mod auth;
pub mod errors;
pub mod meta_inbound;
pub mod metrics;
pub mod pager;
pub mod payment_inbound;
pub mod sandbox;
mod sending;
pub mod web;
