//! Where the ledger lives, as people may see it: the `--db` URL with its
//! password masked, and failures to open it as one message that names the
//! SQLite file or the PostgreSQL database and says how to create it.

use crate::{Backend, OpenMode, StoreError};

const MASK: &str = "***";

/// `postgres://user:secret@host/db?password=x` → `postgres://user:***@host/db?password=***`.
/// Every URL shown to a person goes through here.
pub fn display_url(url: &str) -> String {
    let mut shown = url.to_string();
    if let Some((start, end)) = userinfo_password(url) {
        shown.replace_range(start..end, MASK);
    }
    mask_query_password(&shown)
}

/// The password written in the URL, if any (in the user info or as a
/// `password=` parameter): the CLI also scrubs it from anything it prints.
pub fn url_password(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some((start, end)) = userinfo_password(url) {
        found.push(url[start..end].to_string());
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some(v) = pair.strip_prefix("password=") {
                found.push(v.to_string());
            }
        }
    }
    found.retain(|p| !p.is_empty());
    found
}

/// Byte range of the password in `scheme://user:PASSWORD@host…`. The user
/// info ends at the last `@` (an unencoded `@` in a password stays hidden).
fn userinfo_password(url: &str) -> Option<(usize, usize)> {
    let after_scheme = url.find("://")? + 3;
    let rest = &url[after_scheme..];
    let at = rest.rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some((after_scheme + colon + 1, after_scheme + at))
}

fn mask_query_password(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.strip_prefix("password=") {
            Some(_) => format!("password={MASK}"),
            None => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

/// Host (with port) and database name of a PostgreSQL URL, for messages.
fn pg_host_and_name(url: &str) -> (String, String) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.split('?').next().unwrap_or(rest);
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    match rest.split_once('/') {
        Some((host, name)) => (host.to_string(), name.to_string()),
        None => (rest.to_string(), String::new()),
    }
}

/// The innermost text of a sqlx error, without its wrappers.
fn reason(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::PoolTimedOut => "timed out connecting".to_string(),
        other => other.to_string(),
    }
}

/// One message for a failed open, never showing the password.
pub(crate) fn open_error(
    url: &str,
    backend: Backend,
    mode: OpenMode,
    e: &sqlx::Error,
) -> StoreError {
    let code = match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.to_string()),
        _ => None,
    };
    let text = match backend {
        Backend::Postgres => {
            let (host, name) = pg_host_and_name(url);
            let (hostname, port) = host.rsplit_once(':').unwrap_or((&host, "5432"));
            match code.as_deref() {
                Some("3D000") => format!(
                    "PostgreSQL database \"{name}\" does not exist on {host}: create it \
                     (`createdb -h {hostname} -p {port} {name}`, as a user allowed to), \
                     then run `fundledger init`"
                ),
                Some("28P01" | "28000") => format!(
                    "PostgreSQL on {host} refused the login to database \"{name}\": {}; \
                     check the user and password in --db",
                    reason(e)
                ),
                _ => format!(
                    "cannot open PostgreSQL database \"{name}\" on {host}: {}",
                    reason(e)
                ),
            }
        }
        Backend::Sqlite => {
            let path = crate::sqlite_path(url).unwrap_or_default();
            let verb = if mode == OpenMode::Create {
                "create"
            } else {
                "open"
            };
            format!("cannot {verb} the SQLite database {path}: {}", reason(e))
        }
    };
    StoreError::Open(display_url(&text))
}

/// Creates a new SQLite database file readable and writable by its owner
/// only; an existing file is left as it is.
pub(crate) fn create_private_file(path: &str) -> Result<(), StoreError> {
    let p = std::path::Path::new(path);
    if p.exists() {
        return Ok(());
    }
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(StoreError::Open(format!(
                "cannot create the SQLite database {path}: directory {} does not exist \
                 (create it first, or choose another --db sqlite:PATH)",
                dir.display()
            )));
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(p) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Open(format!(
            "cannot create the SQLite database {path}: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        let check = |url: &str, shown: &str| assert_eq!(display_url(url), shown, "{url}");
        check("sqlite:fundledger.db", "sqlite:fundledger.db");
        check(
            "postgres://alice:S3cret@db.example:5432/ledger",
            "postgres://alice:***@db.example:5432/ledger",
        );
        check("postgres://alice@db/ledger", "postgres://alice@db/ledger");
        check("postgresql://a:p@ss@h/l", "postgresql://a:***@h/l");
        check(
            "postgres://a@h/l?sslmode=require&password=S3cret",
            "postgres://a@h/l?sslmode=require&password=***",
        );
        check("postgres://:S3cret@h/l", "postgres://:***@h/l");
    }

    #[test]
    fn passwords_are_found() {
        assert_eq!(url_password("postgres://a:S3cret@h/l"), ["S3cret"]);
        assert_eq!(url_password("postgres://a@h/l?password=x1"), ["x1"]);
        assert!(url_password("postgres://a@h/l").is_empty());
        assert!(url_password("sqlite:x.db").is_empty());
    }

    #[test]
    fn host_and_database_of_a_url() {
        assert_eq!(
            pg_host_and_name("postgres://a:b@h:5433/ledger?sslmode=disable"),
            ("h:5433".to_string(), "ledger".to_string())
        );
    }
}
