//! The Raft entry context decoder: any bytes a log may hold decode or fail without a panic,
//! and whatever decodes encodes back to a context that decodes the same.
#![no_main]

use ferrotel_ops::raft::EntryContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(context) = EntryContext::decode(data) {
        let again = EntryContext::decode(&context.encode()).expect("a re-encoded context decodes");
        assert_eq!(again, context);
    }
});
