//! The one piece of configuration I/O: reading the declarative configuration file named by
//! `OTEL_CONFIG_FILE`. Everything else about the file (substitution, the schema, the mapping
//! onto the configuration) is pure and lives in [`ferrotel_config::ConfigFile`].

use std::io::Read as _;

use ferrotel_config::escape::printable;
use ferrotel_config::{vars::OTEL_CONFIG_FILE, ConfigFile, Env};

use crate::error::InitError;

/// The parsed file when `OTEL_CONFIG_FILE` is set; an error naming the file when it cannot be
/// read or is not usable as configuration (the specification allows no partial result).
///
/// Only a regular file is read, and at most [`ConfigFile::MAX_BYTES`] of it: a FIFO would
/// block start-up until a writer came, and `/dev/zero` would never end.
pub(crate) fn read(env: &Env) -> Result<Option<ConfigFile>, InitError> {
    let Some(path) = env.get(OTEL_CONFIG_FILE) else {
        return Ok(None);
    };
    let refuse = |why: String| {
        InitError::config_file(format!(
            "cannot read {OTEL_CONFIG_FILE}=\"{}\": {why}",
            printable(path)
        ))
    };
    // Checked before opening: opening a FIFO for reading blocks until it has a writer.
    let kind = std::fs::metadata(path).map_err(|err| refuse(err.to_string()))?;
    if !kind.is_file() {
        return Err(refuse(not_a_regular_file(&kind.file_type())));
    }
    let file = std::fs::File::open(path).map_err(|err| refuse(err.to_string()))?;
    // And again on what was opened, in case the path was replaced in between.
    let opened = file.metadata().map_err(|err| refuse(err.to_string()))?;
    if !opened.is_file() {
        return Err(refuse(not_a_regular_file(&opened.file_type())));
    }
    let cap = ConfigFile::MAX_BYTES as u64 + 1;
    let mut contents = Vec::new();
    file.take(cap)
        .read_to_end(&mut contents)
        .map_err(|err| refuse(err.to_string()))?;
    // Over the cap, `from_bytes` refuses it, naming the file and the cap.
    Ok(Some(ConfigFile::from_bytes(path, &contents, env)?))
}

fn not_a_regular_file(kind: &std::fs::FileType) -> String {
    let what = if kind.is_dir() {
        "a directory"
    } else if is_fifo(kind) {
        "a FIFO"
    } else {
        "a device, socket or other special file"
    };
    format!("it is {what}, not a regular file")
}

#[cfg(unix)]
fn is_fifo(kind: &std::fs::FileType) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(kind)
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::FileType) -> bool {
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn read_path(path: &str) -> Result<Option<ConfigFile>, InitError> {
        read(&Env::from_pairs([(OTEL_CONFIG_FILE, path)]))
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrotel-config-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_refused_without_reading_it() {
        let err = read_path("/dev/zero").unwrap_err().to_string();
        assert!(err.contains("/dev/zero"), "{err}");
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let fifo = scratch("otel.yaml.fifo");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|status| status.success()) {
            eprintln!("skipped: mkfifo is not available");
            return;
        }
        // Nobody ever opens the FIFO for writing: a read would block forever.
        let err = read_path(fifo.to_str().unwrap()).unwrap_err().to_string();
        std::fs::remove_file(&fifo).unwrap();
        assert!(err.contains("a FIFO, not a regular file"), "{err}");
    }

    #[test]
    fn a_directory_is_refused() {
        let err = read_path(std::env::temp_dir().to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("a directory, not a regular file"), "{err}");
    }

    #[test]
    fn a_file_over_the_cap_is_refused_naming_the_file_and_the_cap() {
        let path = scratch("huge.yaml");
        let mut text = String::from("file_format: \"1.1\"\n");
        text.push_str(&"# padding\n".repeat(ConfigFile::MAX_BYTES / 10 + 1));
        std::fs::write(&path, text).unwrap();
        let err = read_path(path.to_str().unwrap()).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains("huge.yaml"), "{err}");
        assert!(err.contains("larger than 4 MiB"), "{err}");
    }

    #[test]
    fn a_hostile_path_is_printed_escaped_and_bounded() {
        let path = format!(
            "/nonexistent\r\nFORGED LINE\u{1b}[2J{}",
            "p".repeat(128 << 10)
        );
        let err = read_path(&path).unwrap_err().to_string();
        assert!(
            !err.contains('\n') && !err.contains('\r') && !err.contains('\u{1b}'),
            "{err}"
        );
        assert!(err.len() < 2_000, "{} bytes", err.len());
    }
}
