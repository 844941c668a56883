//! Reading a recorded log: an NDJSON export (`escalier export`: one
//! `Record` per line, each input followed by its derived records) or a
//! stopped server's database.
//!
//! The server opens its database exclusively while it runs; opening it
//! here then fails with [`LogError::Locked`], whose message says what to
//! do (stop the server, or export and read the export).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use escalier_core::Record;
use escalier_store::{Store, StoreError, StoreOptions};

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A line of an export is not a record.
    #[error("{}:{line}: not a log record: {message}", .path.display())]
    Parse {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("no database at {}", .path.display())]
    Missing { path: PathBuf },
    /// A server holds the database.
    #[error(
        "{} is in use by a running server (it opens its database exclusively); stop the server, \
         or export its log through the API (`escalier export --url URL --out log.ndjson`) and \
         pass the export with --log",
        .path.display()
    )]
    Locked { path: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Visit every record of an NDJSON export, in file order. Blank lines are
/// skipped. Returns the number of records.
pub fn read_ndjson(path: &Path, mut f: impl FnMut(Record)) -> Result<u64, LogError> {
    let io = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        Box::new(BufReader::with_capacity(
            1 << 20,
            File::open(path).map_err(io)?,
        ))
    };
    read_lines(reader, path, |_, line| {
        let record = parse_line(line).map_err(|message| (message,))?;
        f(record);
        Ok(())
    })
}

/// Visit every non-blank line of `reader` with its 1-based number.
pub(crate) fn read_lines(
    mut reader: impl BufRead,
    path: &Path,
    mut f: impl FnMut(u64, &str) -> Result<(), (String,)>,
) -> Result<u64, LogError> {
    let mut line = String::new();
    let (mut n, mut records) = (0u64, 0u64);
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|source| LogError::Io {
            path: path.to_owned(),
            source,
        })?;
        if read == 0 {
            return Ok(records);
        }
        n += 1;
        let text = line.trim_end();
        if text.is_empty() {
            continue;
        }
        f(n, text).map_err(|(message,)| LogError::Parse {
            path: path.to_owned(),
            line: n,
            message,
        })?;
        records += 1;
    }
}

/// One line of an export.
pub(crate) fn parse_line(line: &str) -> Result<Record, String> {
    serde_json::from_str::<Record>(line).map_err(|e| e.to_string())
}

/// Open the database of a stopped server (`<data_dir>/escalier.redb`).
pub fn open_store(db: &Path) -> Result<Store, LogError> {
    if !db.is_file() {
        return Err(LogError::Missing {
            path: db.to_owned(),
        });
    }
    Store::open(db, &StoreOptions::default()).map_err(|e| match e {
        StoreError::Open {
            source: redb::Error::DatabaseAlreadyOpen,
            ..
        } => LogError::Locked {
            path: db.to_owned(),
        },
        other => LogError::Store(other),
    })
}

/// Visit every processed record of `store`, in log order.
pub fn read_store(store: &Store, mut f: impl FnMut(Record)) -> Result<u64, LogError> {
    let mut n = 0;
    store.for_each_record(|r| {
        n += 1;
        f(r);
        Ok(())
    })?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_is_named_by_number() {
        let text = "\n{\"not\": \"a record\"}\n";
        let e = read_lines(text.as_bytes(), Path::new("x.ndjson"), |_, l| {
            parse_line(l).map(drop).map_err(|m| (m,))
        })
        .unwrap_err();
        assert!(
            e.to_string().starts_with("x.ndjson:2: not a log record"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_database_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("escalier.redb");
        assert!(matches!(
            open_store(&db).err(),
            Some(LogError::Missing { .. })
        ));
        assert!(!db.exists());
    }

    #[test]
    fn a_database_in_use_says_to_stop_the_server_or_export() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("escalier.redb");
        let _server = Store::open(&db, &StoreOptions::default()).unwrap();
        let Err(e) = open_store(&db) else {
            panic!("opened a database in use")
        };
        assert!(matches!(e, LogError::Locked { .. }), "{e:?}");
        assert!(e.to_string().contains("stop the server"), "{e}");
    }
}
