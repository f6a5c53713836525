//! The subcommands of the `keyward` binary, one module each.

use clap::Args;

pub mod clients;
pub mod dev;
pub mod keys;
pub mod serve;
pub mod users;

#[derive(Args)]
pub struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}
