//! Builds the application: pool, migrations, optional demo data, routes, and the HTTP server.

use std::net::TcpListener;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};

use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{
    accounts, appointments, audit, auth, db, demo, families, family_days, health, limits, links,
    living_labs, mail, openapi, prisons, steps, sync, telemetry, visits,
};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    /// Held only to be dropped with the application.
    _sweeper: Background,
    _mailer: Option<Background>,
    _retention: Background,
}

/// A background task of the application (the sweep, the email worker), stopped with it: when
/// the server stops, or when the future running it is dropped.
#[derive(Debug)]
struct Background(tokio::task::JoinHandle<()>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Connects to the database, applies migrations, seeds demo data when asked, and binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let url = config.database_url();
        let pool_size = config.db_pool_size;
        let pool = web::block(move || -> anyhow::Result<db::DbPool> {
            let pool = db::connect(&url, pool_size)?;
            let mut conn = pool.get()?;
            let applied = db::run_migrations(&mut conn)?;
            if applied > 0 {
                tracing::info!(applied, "database migrations applied");
            }
            let templates = crate::steps::templates::seed(&mut conn)
                .map_err(|e| anyhow::anyhow!("storing the shipped step templates: {e}"))?;
            if templates > 0 {
                tracing::info!(templates, "shipped step templates stored");
            }
            Ok(pool)
        })
        .await??;
        let state = AppState::new(pool, config);
        if state.config.demo {
            let pool = state.pool.clone();
            web::block(move || {
                let mut conn = pool.get()?;
                demo::seed(&mut conn)
            })
            .await??;
        }
        let mail = std::sync::Arc::new(mail::worker::Mailer::from_config(&state.config)?);
        if let Some(folder) = mail.folder() {
            tracing::info!(folder = %folder.display(), "no SMTP server configured: email is written as .eml files");
        }
        let listener = TcpListener::bind((state.config.host.as_str(), state.config.port))?;
        let port = listener.local_addr()?.port();
        let server = run(listener, state.clone())?;
        let sweeper = Background(tokio::spawn(sweep_forever(state.clone())));
        let retention = Background(tokio::spawn(crate::retention::run(state.clone())));
        let mailer = state
            .config
            .mail
            .worker
            .then(|| Background(tokio::spawn(mail::worker::run(state.clone(), mail))));
        Ok(Self {
            port,
            server,
            state,
            _sweeper: sweeper,
            _mailer: mailer,
            _retention: retention,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops the server from elsewhere (tests, signal handlers).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // The background tasks stop when `self` is dropped, here or when this future is.
        self.server.await
    }
}

/// Time-driven work: offers of the visit waiting list that ran out pass to the next family.
/// Each run is one short transaction; several instances sweeping at once is harmless.
async fn sweep_forever(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match state.write(visits::waitlist::sweep).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "waiting-list offers expired"),
            Err(error) => tracing::warn!(error = %error, "waiting-list sweep failed"),
        }
    }
}

fn run(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let workers = state.config.workers;
    // Each blocking task of a worker holds or waits for one of the pool's connections (or
    // hashes a password): more threads than connections would only wait, each with its own
    // stack and allocator arena (with 512, the default, 200 waiting syncs took 70 MiB).
    let blocking_threads = usize::try_from(state.config.db_pool_size)
        .unwrap_or(usize::MAX)
        .max(2);
    let limiter = web::Data::new(limits::RequestLimiter::new(&state.config));
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(limiter.clone())
            .app_data(web::PathConfig::default().error_handler(|err, _| {
                ApiError::bad_request("invalid_id", format!("a path segment is not valid: {err}"))
                    .into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("the query string is not valid: {err}"),
                )
                .into()
            }))
            .wrap(from_fn(refuse_nul_in_url))
            .wrap(from_fn(limits::limit_requests))
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "no-referrer"))
                    .add(("Cache-Control", "no-store")),
            )
            .wrap(from_fn(telemetry::request_span))
            .service(health::health)
            .service(health::ready)
            .service(openapi::openapi_json)
            .service(api_v1())
            .configure(links::configure)
            .configure(living_labs::links::configure)
            .configure(crate::web::configure)
            .default_service(web::to(no_route))
    })
    .worker_max_blocking_threads(blocking_threads)
    .listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// No address needs U+0000 and PostgreSQL cannot compare text holding it: a path or query
/// string carrying `%00` is refused before any handler looks it up.
async fn refuse_nul_in_url(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let has_nul = |text: &str| text.as_bytes().windows(3).any(|w| w == b"%00");
    let refusal = if has_nul(req.uri().path()) {
        Some(ApiError::bad_request(
            "invalid_id",
            "a path segment is not valid: it holds the NUL character",
        ))
    } else if req.uri().query().is_some_and(has_nul) {
        Some(ApiError::bad_request(
            "invalid_query",
            "the query string is not valid: it holds the NUL character",
        ))
    } else {
        None
    };
    match refusal {
        Some(error) => Ok(req
            .into_response(error.error_response())
            .map_into_right_body()),
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

fn api_v1() -> actix_web::Scope {
    web::scope("/api/v1")
        .service(auth::api::login)
        .service(auth::api::logout)
        .service(auth::api::refresh)
        .service(auth::api::enrol)
        .service(auth::api::me)
        .service(auth::api::my_devices)
        .service(auth::api::revoke_device)
        .service(families::api::list)
        .service(families::api::create)
        .service(families::api::get_one)
        .service(families::api::close_case)
        .service(families::api::reopen_case)
        .service(families::api::add_member)
        .service(families::api::link_detainee)
        .service(families::api::create_enrolment_code)
        .service(prisons::api::list)
        .service(prisons::api::create)
        .service(accounts::api::list)
        .service(accounts::api::create)
        .service(accounts::api::get_one)
        .service(accounts::api::update)
        .service(accounts::api::grant_role)
        .service(accounts::api::revoke_role)
        .service(accounts::api::assign_caseload)
        .service(accounts::api::unassign_caseload)
        .service(audit::api::list_audit)
        .configure(visits::api::configure)
        .configure(family_days::api::configure)
        .configure(sync::api::configure)
        .configure(crate::privacy::api::configure)
        .configure(steps::api::configure)
        .configure(appointments::api::configure)
        .configure(accounts::caseload_requests::configure)
        .configure(mail::api::configure)
        .configure(living_labs::api::configure)
}

/// Unmatched requests: a path that exists with another method is a 405, anything else a 404.
async fn no_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if req.resource_map().has_resource(req.path()) {
        return Ok(
            HttpResponse::MethodNotAllowed().json(reguide_protocol::ErrorBody {
                error: "method_not_allowed".into(),
                message: format!("{} is not allowed here", req.method()),
                field: None,
            }),
        );
    }
    Err(ApiError::not_found(
        "not_found",
        "there is nothing at this address",
    ))
}
