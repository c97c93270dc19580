//! Family phones in the tests: the real client core, run off the async test's thread.

use std::path::PathBuf;

use reguide_client_core::Client;

use crate::{DEMO_PASSWORD, DemoUser, TestApp};

/// Runs blocking client work (or any blocking work) off the async test's thread.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking work")
}

/// Fatima's phone with its data in `dir`, signed in and synced once.
pub async fn fatimas_phone(app: &TestApp, dir: PathBuf) -> Client {
    let url = app.address.clone();
    blocking(move || {
        let mut client = Client::open(&dir, None, &url).expect("open");
        client
            .login(
                DemoUser::FamilyMember.email(),
                DEMO_PASSWORD,
                "Fatima's phone",
            )
            .expect("login");
        client.sync_now().expect("first sync");
        client
    })
    .await
}
