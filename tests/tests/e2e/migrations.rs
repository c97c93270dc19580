//! Both backends must carry the same migrations: the server embeds one folder per backend and
//! a migration added to only one of them would make the schemas drift apart.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn migrations_dir(backend: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("migrations")
        .join(backend)
}

/// The migration folder names under `dir`, checking that each has `up.sql` and `down.sql`.
fn migration_names(dir: &Path) -> BTreeSet<String> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    let mut names = BTreeSet::new();
    for entry in entries {
        let entry = entry.expect("read a directory entry");
        let path = entry.path();
        if !path.is_dir() {
            // Diesel keeps nothing else here; a stray file is most likely a misplaced migration.
            panic!("{} is not a migration folder", path.display());
        }
        for script in ["up.sql", "down.sql"] {
            let file = path.join(script);
            assert!(file.is_file(), "{} is missing", file.display());
        }
        names.insert(entry.file_name().to_string_lossy().into_owned());
    }
    names
}

#[test]
fn sqlite_and_postgres_have_the_same_migrations() {
    let sqlite = migration_names(&migrations_dir("sqlite"));
    let postgres = migration_names(&migrations_dir("postgres"));
    assert!(!sqlite.is_empty(), "no migrations found");
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "migrations differ: only in sqlite {only_sqlite:?}, only in postgres {only_postgres:?}"
    );
}
