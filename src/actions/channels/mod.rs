//! One file per channel: each turns a batch of notifications into the service's own request.

pub mod alertmanager;
pub mod console;
pub mod discord;
pub mod email;
pub mod gotify;
pub mod matrix;
pub mod ntfy;
pub mod pushover;
pub mod slack;
pub mod slack_api;
pub mod telegram;
pub mod webhook;
