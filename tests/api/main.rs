//! Integration tests: the real router on its own SQLite database per test, driven over HTTP
//! semantics (`oneshot`) or a real port where a client library needs one.

mod account;
mod admin;
mod api_auth;
mod audit;
mod authorize;
mod bad_input;
mod browser;
mod cli;
mod client_credentials;
mod code_flow;
mod cors;
mod discovery;
mod families;
mod faults;
mod health;
mod helpers;
mod introspection;
mod keys;
mod logout;
mod oidc_client;
mod openapi;
mod password;
mod password_reset;
mod process;
mod refresh;
mod replicas;
mod revocation;
mod roles;
mod round_trips;
mod signin;
mod signup;
mod token_endpoint;
mod userinfo;
mod verification;
mod web;
