//! Detection rules as operators write them: a TOML rules file
//! (`parse_rules_toml`, `gatehouse rules apply`) and one rule as the admin API's
//! JSON body (`RuleSpec` then `resolve`), the real parsers and validation.
#![no_main]

use gatehouse_server::app::rules::{RuleSpec, parse_rules_toml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(specs) = parse_rules_toml(text) {
        for spec in specs {
            // A resolved rule resolves again to itself (it is stored resolved
            // and read back through the same path).
            let json = serde_json::to_string(&spec).expect("a rule serialises");
            let back: RuleSpec = serde_json::from_str(&json).expect("a stored rule reads back");
            let _ = spec.detect_config();
            let again = back.resolve().expect("a resolved rule resolves again");
            assert_eq!(serde_json::to_string(&again).unwrap(), json);
        }
    }
    if let Ok(spec) = serde_json::from_str::<RuleSpec>(text)
        && let Ok(spec) = spec.resolve()
    {
        let _ = spec.detect_config();
        let _ = spec.window();
    }
});
