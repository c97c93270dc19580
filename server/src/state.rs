//! What every handler shares: the database pool and the configuration.

use std::sync::Arc;

use actix_web::web;

use crate::config::Config;
use crate::db::{DbConn, DbPool};
use crate::error::ApiResult;
use crate::sync::cache::DocCache;

#[derive(Clone, Debug)]
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    /// Family documents kept loaded between syncs (this instance's; see [`DocCache`]).
    pub docs: Arc<DocCache>,
}

impl AppState {
    pub fn new(pool: DbPool, config: Config) -> Self {
        Self {
            pool,
            docs: Arc::new(DocCache::new(config.doc_cache_size)),
            config: Arc::new(config),
        }
    }

    /// Runs blocking database work off the async workers, with a pooled connection.
    pub async fn db<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut DbConn) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// Like [`AppState::db`], inside a write transaction (see [`DbConn::write`]).
    pub async fn write<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut DbConn) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.db(move |conn| conn.write(f)).await
    }
}
