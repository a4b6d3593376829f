use super::*;

#[test]
fn every_code_bitrix24_sends_maps_to_the_closest_language() {
    let expected = [
        ("en", Lang::En),
        ("ru", Lang::Ru),
        ("de", Lang::De),
        ("ua", Lang::Uk),
        ("la", Lang::Es),
        ("br", Lang::PtBr),
        ("pl", Lang::Pl),
        ("fr", Lang::Fr),
        ("it", Lang::It),
        ("tr", Lang::Tr),
        ("kz", Lang::Ru),
        ("sc", Lang::En),
        ("tc", Lang::En),
        ("ja", Lang::En),
        ("vn", Lang::En),
        ("id", Lang::En),
        ("ms", Lang::En),
        ("th", Lang::En),
        ("ar", Lang::En),
        ("in", Lang::En),
    ];
    assert_eq!(expected.len(), BITRIX24_CODES.len());
    for code in BITRIX24_CODES {
        let (_, lang) = expected
            .iter()
            .find(|(c, _)| *c == code)
            .unwrap_or_else(|| panic!("{code} has no expectation"));
        assert_eq!(Lang::from_code(code), *lang, "{code}");
    }
    assert_eq!(Lang::from_code("DE"), Lang::De);
    assert_eq!(Lang::from_code("de-AT"), Lang::De);
    assert_eq!(Lang::from_code("pt_BR"), Lang::PtBr);
    assert_eq!(Lang::from_code("<script>"), Lang::En);
}

#[test]
fn each_language_reads_back_from_its_own_code() {
    for lang in Lang::ALL {
        assert_eq!(Lang::from_code(lang.code()), lang, "{lang:?}");
    }
}

/// `{name}` placeholders in a catalogue, each with how often it occurs.
fn placeholders(text: &str) -> std::collections::BTreeMap<String, usize> {
    let mut found = std::collections::BTreeMap::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_lowercase()) => {
                *found.entry(after[..close].to_owned()).or_insert(0) += 1;
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    found
}

#[test]
fn catalogues_are_complete_translated_and_keep_every_placeholder() {
    let english = format!("{:?}", Lang::En.text());
    for lang in Lang::ALL.into_iter().skip(1) {
        let text = format!("{:?}", lang.text());
        assert!(!text.contains(": \"\""), "{lang:?} has an empty entry");
        assert_ne!(text, english);
        assert_ne!(
            lang.text().install_done_title,
            Lang::En.text().install_done_title,
            "{lang:?}"
        );
        assert_eq!(placeholders(&text), placeholders(&english), "{lang:?}");
        assert_eq!(lang.text().days_short.split(',').count(), 7, "{lang:?}");
        assert_eq!(lang.text().months_short.split(',').count(), 12, "{lang:?}");
    }
}
