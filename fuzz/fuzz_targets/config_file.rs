//! The declarative configuration file (`OTEL_CONFIG_FILE`) as raw bytes: parsing and
//! resolution never panic; contents over the size cap are refused; aliases and `${VAR}`
//! substitution (with a 64 KiB variable at hand) stay within the expansion cap, which
//! libFuzzer's memory limit would catch; no message prints the value of a substituted secret.
#![no_main]

use ferrotel_config::{Config, ConfigFile, Env};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-S3CRET-9f0e2d7c";

fuzz_target!(|data: &[u8]| {
    let big = "b".repeat(64 << 10);
    let env = Env::from_pairs([("BIG", big.as_str()), ("SECRET", SECRET), ("N", "12")]);
    let parsed = ConfigFile::from_bytes("fuzz.yaml", data, &env);
    if data.len() > ConfigFile::MAX_BYTES {
        assert!(parsed.is_err(), "a file over the size cap was accepted");
        return;
    }
    // A secret written into the file itself is no substitution: nothing to check then.
    let literal = data.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
    let file = match parsed {
        Ok(file) => file,
        Err(error) => {
            assert!(literal || !error.to_string().contains(SECRET), "{error}");
            return;
        }
    };
    for strict in [false, true] {
        let messages: Vec<String> = match Config::builder()
            .strict(strict)
            .config_file(file.clone())
            .resolve(&env)
        {
            Ok(resolved) => resolved.issues.iter().map(ToString::to_string).collect(),
            // Each problem on its own line: the list's line breaks are ferrotel's own.
            Err(error) => error.issues().iter().map(ToString::to_string).collect(),
        };
        for message in messages {
            assert!(literal || !message.contains(SECRET), "{message}");
            assert!(
                !message.contains(['\n', '\r', '\u{1b}']),
                "unescaped control character: {message:?}"
            );
        }
    }
});
