//! Any text as a template: parsed or refused, never a panic; rendering substitutes every
//! placeholder exactly once and never rescans a substituted value.
#![no_main]

use fetch_env_core::Template;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(template) = Template::parse(text) else { return };
    // Values that look like placeholders themselves must come out verbatim.
    let rendered = template.render(|_| Some("${X}"), |_| false).expect("every value is set");
    let encoded = template.render(|_| Some("${X}"), |_| true).expect("every value is set");
    let placeholders = template.placeholders().len();
    if placeholders == 0 {
        assert_eq!(rendered.as_str(), encoded.as_str());
    } else {
        assert!(rendered.contains("${X}"));
        assert!(encoded.contains("%24%7BX%7D"));
    }
});
