//! The real server in a process of its own, for the tests that kill it (`kill -9`) or run two
//! instances that share nothing but the database. Configured like the server's own binary, from
//! `REGUIDE_*` and `DATABASE_URL`; prints `listening on <port>` once it serves.

use reguide_server::config::Config;
use reguide_server::startup::Application;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(None).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    reguide_server::telemetry::init(&config);
    let application = Application::build(config).await?;
    println!("listening on {}", application.port());
    application.run_until_stopped().await?;
    Ok(())
}
