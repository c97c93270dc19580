//! `reguide-server`: serve (the default), apply migrations, or create an account.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use reguide_protocol::{Language, PrisonId, Role};
use reguide_server::accounts::{self, EmailAddress, NewAccountRow};
use reguide_server::auth::password;
use reguide_server::config::Config;
use reguide_server::startup::Application;
use reguide_server::{audit, db, demo, telemetry};

#[derive(Debug, Parser)]
#[command(name = "reguide-server", version, about = "The reguide server")]
struct Cli {
    /// TOML configuration file (settings from the environment win over it).
    #[arg(long, env = "REGUIDE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Seed demo data (prisons, families, one account per role) into an empty database.
    #[arg(long, global = true)]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and web admin (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a staff account. The password is read from REGUIDE_NEW_PASSWORD or standard input.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, coordinator, social_worker or facilitator; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The prison a coordinator covers; repeat for several.
        #[arg(long = "prison")]
        prisons: Vec<PrisonId>,
        /// nl, fr, de, en or ar.
        #[arg(long, default_value = "en")]
        language: String,
    },
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref()).context("reading the configuration")?;
    config.demo |= cli.demo;
    telemetry::init(&config);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let pool = db::connect(&config.database_url(), 1)?;
            let applied = db::run_migrations(&mut *pool.get()?)?;
            println!(
                "{applied} migration(s) applied to {}",
                config.database_url_redacted()
            );
            Ok(())
        }
        Command::CreateUser {
            email,
            name,
            roles,
            prisons,
            language,
        } => create_user(&config, &email, &name, &roles, &prisons, &language),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let demo = config.demo;
    let db = config.database_url_redacted();
    let app = Application::build(config).await?;
    let state = app.state();
    println!(
        "reguide is serving on http://{}:{}",
        state.config.host,
        app.port()
    );
    println!("  database: {db}");
    println!(
        "  API description: http://{}:{}/api/openapi.json",
        state.config.host,
        app.port()
    );
    if demo {
        println!("  demo accounts (password \"{}\"):", demo::DEMO_PASSWORD);
        for (email, role) in demo::DEMO_ACCOUNTS {
            println!("    {email:<26} {role}");
        }
    }
    app.run_until_stopped().await?;
    Ok(())
}

fn create_user(
    config: &Config,
    email: &str,
    name: &str,
    roles: &[String],
    prisons: &[PrisonId],
    language: &str,
) -> anyhow::Result<()> {
    let email = EmailAddress::parse(email, "email").map_err(|e| anyhow::anyhow!("{e}"))?;
    let name = accounts::display_name(name, "name").map_err(|e| anyhow::anyhow!("{e}"))?;
    let language = Language::from_code(language)
        .with_context(|| format!("unknown language {language:?}: use nl, fr, de, en or ar"))?;
    let roles = roles
        .iter()
        .map(|r| match Role::parse(r) {
            Some(Role::FamilyMember) => {
                anyhow::bail!("family members join through an enrolment code, not create-user")
            }
            Some(role) => Ok(role),
            None => anyhow::bail!(
                "unknown role {r:?}: use admin, coordinator, social_worker or facilitator"
            ),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if roles.contains(&Role::Coordinator) && prisons.is_empty() {
        anyhow::bail!("a coordinator needs at least one --prison");
    }
    let password = read_new_password()?;
    password::check_policy(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = password::hash(&password)?;

    let pool = db::connect(&config.database_url(), 1)?;
    let mut conn = pool.get()?;
    db::run_migrations(&mut conn)?;
    let id = conn
        .write(|conn| {
            let id = accounts::insert_account(
                conn,
                NewAccountRow {
                    username: email.as_str().to_owned(),
                    email: Some(email.clone()),
                    display_name: name.clone(),
                    language,
                    password_hash: hash.clone(),
                },
            )?;
            audit::record(
                conn,
                None,
                "account_created",
                Some(audit::Object::new("account", &id)),
            )?;
            for role in &roles {
                let scopes: Vec<Option<PrisonId>> = if *role == Role::Coordinator {
                    prisons.iter().copied().map(Some).collect()
                } else {
                    vec![None]
                };
                for prison in scopes {
                    let grant = accounts::grant_role(conn, id, *role, prison, None)?;
                    audit::record(
                        conn,
                        None,
                        "role_granted",
                        Some(audit::Object::new("role_grant", &grant.id)),
                    )?;
                }
            }
            Ok::<_, reguide_server::error::ApiError>(id)
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("account {id} created for {}", email.as_str());
    Ok(())
}

fn read_new_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("REGUIDE_NEW_PASSWORD") {
        return Ok(password);
    }
    if std::io::stdin().is_terminal() {
        eprint!(
            "password (at least {} characters, shown as you type): ",
            password::MIN_LEN
        );
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
