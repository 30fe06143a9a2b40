//! The one piece of configuration I/O: reading the declarative configuration file named by
//! `OTEL_CONFIG_FILE`. Everything else about the file (substitution, the schema, the mapping
//! onto the configuration) is pure and lives in [`ferrotel_config::ConfigFile`].

use ferrotel_config::{vars::OTEL_CONFIG_FILE, ConfigFile, Env};

use crate::error::InitError;

/// The parsed file when `OTEL_CONFIG_FILE` is set; an error naming the file when it cannot be
/// read or is not usable as configuration (the specification allows no partial result).
pub(crate) fn read(env: &Env) -> Result<Option<ConfigFile>, InitError> {
    let Some(path) = env.get(OTEL_CONFIG_FILE) else {
        return Ok(None);
    };
    let contents = std::fs::read_to_string(path).map_err(|err| {
        InitError::config_file(format!("cannot read {OTEL_CONFIG_FILE}={path:?}: {err}"))
    })?;
    Ok(Some(ConfigFile::parse(path, &contents, env)?))
}
