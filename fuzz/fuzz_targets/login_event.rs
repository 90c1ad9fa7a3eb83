//! Login events from apps: one JSON object per line of an import file
//! (`LoginEventInput::parse_json`) and one item of the API's batch body
//! (`from_value`, after the body's JSON is parsed), both real functions.
#![no_main]

use gatehouse_domain::Timestamp;
use gatehouse_domain::login_event::LoginEventInput;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // 2026-12-04T00:00:00Z: events "in the future" are refused against it.
    let now = Timestamp::from_millis(1_796_342_400_000);
    let line = LoginEventInput::parse_json(text, now);
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        // The API's body: `{"events": [...]}`, each item parsed on its own.
        let items = match value.get("events").and_then(|v| v.as_array()) {
            Some(items) => items.clone(),
            None => vec![value.clone()],
        };
        for item in items {
            let _ = LoginEventInput::from_value(item, now);
        }
        // One object, two entry points: the same verdict.
        let item = LoginEventInput::from_value(value, now);
        assert_eq!(
            line.is_ok(),
            item.is_ok(),
            "import line and API item disagree"
        );
    }
});
