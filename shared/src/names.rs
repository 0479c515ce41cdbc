//! Display names: the one rule that turns whatever a join carries into a name that is safe to
//! show next to other players' (no invisible, reordering or line-breaking characters).
//!
//! The rule needs a few Unicode general categories, which the standard library does not
//! expose (it has only `char::is_control`, Cc). They are kept here as a sorted table of
//! ranges, searched by bisection, and a test checks the table against a list written by
//! Python's Unicode data (`shared/tests/data/name_categories.txt`, Unicode 18.0.0).

use std::cmp::Ordering;

use crate::protocol::MAX_NAME_CHARS;

/// The general categories the name rule acts on; every other character is kept as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    /// Cc: C0 and C1 controls, DEL.
    Control,
    /// Cf: invisible characters that steer rendering (zero-width, bidi, BOM, tags, …).
    Format,
    /// Zs: spaces, ASCII and others.
    SpaceSeparator,
    /// Zl: U+2028.
    LineSeparator,
    /// Zp: U+2029.
    ParagraphSeparator,
    /// Co: private use, whose look depends on the font.
    PrivateUse,
}

use Category::{Control, Format, LineSeparator, ParagraphSeparator, PrivateUse, SpaceSeparator};

/// Every code point of the categories in [`Category`], as inclusive ranges sorted by first
/// code point, from Unicode 18.0.0 (Python's `unicodedata2` 18.0.0 package; the standard
/// library's `unicodedata` of Python 3.11 is Unicode 14.0.0 and lacks U+13439..U+1343F).
/// Characters a later Unicode version adds to these categories are kept until the table is
/// regenerated: run `shared/tests/data/name_categories.py` and `the_table_is_the_unicode_data`
/// shows what to change here.
static CATEGORIES: [(char, char, Category); 35] = [
    ('\u{0}', '\u{1F}', Control),
    ('\u{20}', '\u{20}', SpaceSeparator),
    ('\u{7F}', '\u{9F}', Control),
    ('\u{A0}', '\u{A0}', SpaceSeparator),
    ('\u{AD}', '\u{AD}', Format),   // soft hyphen
    ('\u{600}', '\u{605}', Format), // Arabic number signs
    ('\u{61C}', '\u{61C}', Format), // Arabic letter mark
    ('\u{6DD}', '\u{6DD}', Format),
    ('\u{70F}', '\u{70F}', Format), // Syriac abbreviation mark
    ('\u{890}', '\u{891}', Format),
    ('\u{8E2}', '\u{8E2}', Format),
    ('\u{1680}', '\u{1680}', SpaceSeparator),
    ('\u{180E}', '\u{180E}', Format), // Mongolian vowel separator
    ('\u{2000}', '\u{200A}', SpaceSeparator),
    ('\u{200B}', '\u{200F}', Format), // zero-width space, non-joiner, joiner; LRM, RLM
    ('\u{2028}', '\u{2028}', LineSeparator),
    ('\u{2029}', '\u{2029}', ParagraphSeparator),
    ('\u{202A}', '\u{202E}', Format), // bidi embeddings and overrides
    ('\u{202F}', '\u{202F}', SpaceSeparator),
    ('\u{205F}', '\u{205F}', SpaceSeparator),
    ('\u{2060}', '\u{2064}', Format), // word joiner, invisible operators
    ('\u{2066}', '\u{206F}', Format), // bidi isolates, deprecated format characters
    ('\u{3000}', '\u{3000}', SpaceSeparator),
    ('\u{E000}', '\u{F8FF}', PrivateUse),
    ('\u{FEFF}', '\u{FEFF}', Format), // BOM, zero-width no-break space
    ('\u{FFF9}', '\u{FFFB}', Format), // interlinear annotation
    ('\u{110BD}', '\u{110BD}', Format),
    ('\u{110CD}', '\u{110CD}', Format),
    ('\u{13430}', '\u{1343F}', Format), // Egyptian hieroglyph format controls
    ('\u{1BCA0}', '\u{1BCA3}', Format), // shorthand format controls
    ('\u{1D173}', '\u{1D17A}', Format), // musical symbol format controls
    ('\u{E0001}', '\u{E0001}', Format), // language tag
    ('\u{E0020}', '\u{E007F}', Format), // tag characters
    ('\u{F0000}', '\u{FFFFD}', PrivateUse),
    ('\u{100000}', '\u{10FFFD}', PrivateUse),
];

/// The category of `c` if it is one the rule acts on.
fn category(c: char) -> Option<Category> {
    CATEGORIES
        .binary_search_by(|&(first, last, _)| {
            if last < c {
                Ordering::Less
            } else if first > c {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        })
        .ok()
        .map(|i| CATEGORIES[i].2)
}

/// The display name a join's `raw` name becomes, or `None` if nothing is left of it.
///
/// Control (Cc), format (Cf), line and paragraph separator (Zl, Zp) and private-use (Co)
/// characters are removed; every space separator (Zs, e.g. U+00A0, U+3000) becomes an ASCII
/// space; runs of spaces become one; the name is trimmed and cut to [`MAX_NAME_CHARS`]
/// characters. A cut just after a space drops that space too, so a name never starts or ends
/// with one. Characters are Unicode scalar values: a cut may split a combining sequence.
pub fn clean_name(raw: &str) -> Option<String> {
    let mut name = String::with_capacity(raw.len().min(4 * MAX_NAME_CHARS));
    let mut chars = 0;
    // A space is written only once a character follows it: that collapses runs and trims.
    let mut space_pending = false;
    for c in raw.chars() {
        match category(c) {
            None => {}
            Some(SpaceSeparator) => {
                space_pending = chars > 0;
                continue;
            }
            Some(Control | Format | LineSeparator | ParagraphSeparator | PrivateUse) => continue,
        }
        if space_pending {
            if chars + 2 > MAX_NAME_CHARS {
                break;
            }
            name.push(' ');
            chars += 1;
            space_pending = false;
        }
        name.push(c);
        chars += 1;
        if chars == MAX_NAME_CHARS {
            break;
        }
    }
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Unicode's two-letter name of a category.
    fn abbreviation(c: Category) -> &'static str {
        match c {
            Control => "Cc",
            Format => "Cf",
            SpaceSeparator => "Zs",
            LineSeparator => "Zl",
            ParagraphSeparator => "Zp",
            PrivateUse => "Co",
        }
    }

    /// The ranges in `tests/data/name_categories.txt`, written by Python's Unicode data.
    fn python_ranges() -> Vec<(u32, u32, String)> {
        let text = include_str!("../tests/data/name_categories.txt");
        let version = text.lines().find_map(|l| l.strip_prefix("# Unicode ")).unwrap_or("");
        assert!(version.starts_with("18.0.0,"), "the table says Unicode 18.0.0: {version}");
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|line| {
                let (range, cat) = line.split_once(" ; ").expect("`first..last ; Cat`");
                let (first, last) = range.split_once("..").expect("`first..last`");
                let hex = |h| u32::from_str_radix(h, 16).expect("hex code point");
                (hex(first), hex(last), cat.to_owned())
            })
            .collect()
    }

    #[test]
    fn the_table_is_the_unicode_data() {
        let ours: Vec<(u32, u32, String)> = CATEGORIES
            .iter()
            .map(|&(first, last, c)| (first.into(), last.into(), abbreviation(c).to_owned()))
            .collect();
        assert_eq!(ours, python_ranges());
    }

    #[test]
    fn every_code_point_is_found_by_the_search() {
        let ranges = python_ranges();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let cp = u32::from(c);
            let want = ranges.iter().find(|r| r.0 <= cp && cp <= r.1).map(|r| r.2.as_str());
            assert_eq!(category(c).map(abbreviation), want, "U+{cp:04X}");
        }
    }

    #[test]
    fn the_table_agrees_with_the_standard_library_on_controls() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(category(c) == Some(Control), c.is_control(), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn plain_names_are_kept() {
        for name in ["ann", "Bob the 2nd", "caf\u{e9}", "\u{65e5}\u{672c}", "\u{1F600}x", "a-b_c.d"]
        {
            assert_eq!(clean_name(name).as_deref(), Some(name));
        }
    }

    #[test]
    fn controls_are_removed() {
        assert_eq!(clean_name("  ann\u{7}  ").as_deref(), Some("ann"));
        assert_eq!(clean_name("a\tb\nc\r\0d\u{7f}e\u{85}f\u{9b}").as_deref(), Some("abcdef"));
        assert_eq!(clean_name("\n\t"), None);
    }

    #[test]
    fn bidi_overrides_embeddings_and_isolates_are_removed() {
        // "Right-to-left override" makes "ann\u{202E}gpj.exe" read as "annexe.jpg".
        assert_eq!(clean_name("ann\u{202E}gpj.exe").as_deref(), Some("anngpj.exe"));
        let bidi = "\u{202A}a\u{202B}b\u{202C}c\u{202D}d\u{2066}e\u{2067}f\u{2068}g\u{2069}h";
        assert_eq!(clean_name(bidi).as_deref(), Some("abcdefgh"));
        assert_eq!(clean_name("\u{200E}x\u{200F}\u{61C}").as_deref(), Some("x"));
    }

    #[test]
    fn zero_width_characters_and_the_bom_are_removed() {
        // The family emoji is four emoji held together by zero-width joiners.
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(clean_name(family).as_deref(), Some("\u{1F468}\u{1F469}\u{1F467}"));
        assert_eq!(clean_name("a\u{200B}n\u{200C}n\u{2060}").as_deref(), Some("ann"));
        assert_eq!(clean_name("\u{FEFF}ann").as_deref(), Some("ann"));
        assert_eq!(clean_name("so\u{AD}ft").as_deref(), Some("soft"));
    }

    #[test]
    fn tag_characters_are_removed() {
        // The flag of England: a black flag, then the tags "gbeng" and CANCEL TAG.
        let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert_eq!(clean_name(england).as_deref(), Some("\u{1F3F4}"));
        // Text hidden in tags: "ann" that also carries an invisible "hi".
        assert_eq!(clean_name("ann\u{E0001}\u{E0068}\u{E0069}").as_deref(), Some("ann"));
    }

    #[test]
    fn line_paragraph_and_private_use_characters_are_removed() {
        assert_eq!(clean_name("ann\u{2028}bob\u{2029}").as_deref(), Some("annbob"));
        assert_eq!(clean_name("\u{E000}a\u{F8FF}\u{F0000}b\u{10FFFD}").as_deref(), Some("ab"));
    }

    #[test]
    fn every_space_becomes_one_ascii_space() {
        assert_eq!(clean_name("ann\u{A0}lee").as_deref(), Some("ann lee"));
        assert_eq!(
            clean_name("\u{3000}ann\u{3000}\u{3000}lee\u{3000}").as_deref(),
            Some("ann lee")
        );
        assert_eq!(
            clean_name("a \u{A0}\u{2003}\u{202F}\u{205F}\u{1680} b").as_deref(),
            Some("a b")
        );
        // Removed characters between spaces don't keep them apart.
        assert_eq!(clean_name("a \u{200B} \u{7} b").as_deref(), Some("a b"));
        assert_eq!(clean_name(" \u{A0}\u{3000} "), None);
    }

    #[test]
    fn long_names_are_cut_to_sixteen_characters() {
        assert_eq!(clean_name(&"x".repeat(100)), Some("x".repeat(MAX_NAME_CHARS)));
        let wide = "\u{65e5}".repeat(20);
        assert_eq!(clean_name(&wide), Some("\u{65e5}".repeat(MAX_NAME_CHARS)));
        // Removed characters don't count; a cut never leaves a space at the end.
        let hidden = format!("{}{}", "\u{200B}".repeat(50), "y".repeat(20));
        assert_eq!(clean_name(&hidden), Some("y".repeat(MAX_NAME_CHARS)));
        let at_space = format!("{} {}", "a".repeat(15), "b".repeat(5));
        assert_eq!(clean_name(&at_space), Some("a".repeat(15)));
        let before_space = format!("{} {}", "a".repeat(14), "b".repeat(5));
        assert_eq!(clean_name(&before_space), Some(format!("{} b", "a".repeat(14))));
        assert_eq!(MAX_NAME_CHARS, 16);
    }

    #[test]
    fn names_of_only_invisible_characters_are_none() {
        for raw in [
            "",
            "\u{200B}\u{200C}\u{200D}",
            "\u{202E}\u{2066}\u{2069}",
            "\u{FEFF}",
            "\u{E0001}\u{E0041}\u{E007F}",
            "\u{2028}\u{2029}",
            "\u{E000}",
            "\u{AD} \u{AD}",
        ] {
            assert_eq!(clean_name(raw), None, "{raw:?}");
        }
    }

    /// The rule as the documentation states it, one step after another.
    fn by_the_book(raw: &str) -> Option<String> {
        let kept: String = raw
            .chars()
            .filter_map(|c| match category(c) {
                None => Some(c),
                Some(SpaceSeparator) => Some(' '),
                Some(_) => None,
            })
            .collect();
        let collapsed = kept.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        let cut: String = collapsed.chars().take(MAX_NAME_CHARS).collect();
        let cut = cut.trim_end_matches(' ');
        (!cut.is_empty()).then(|| cut.to_owned())
    }

    proptest! {
        #[test]
        fn the_one_pass_cleaner_follows_the_rule_step_by_step(
            raw in proptest::collection::vec(
                proptest::sample::select(vec![
                    'a', 'Z', '7', '\u{e9}', '\u{65e5}', '\u{1F600}', '\u{301}', ' ', '\u{A0}',
                    '\u{3000}', '\t', '\n', '\u{7F}', '\u{AD}', '\u{200B}', '\u{200D}',
                    '\u{202E}', '\u{2066}', '\u{FEFF}', '\u{E0041}', '\u{2028}', '\u{2029}',
                    '\u{E000}', '\u{10FFFD}',
                ]),
                0..40,
            ).prop_map(|cs| cs.into_iter().collect::<String>())
        ) {
            let cleaned = clean_name(&raw);
            prop_assert_eq!(&cleaned, &by_the_book(&raw));
            if let Some(name) = cleaned {
                prop_assert!(name.chars().count() <= MAX_NAME_CHARS);
                prop_assert!(!name.starts_with(' ') && !name.ends_with(' ') && !name.contains("  "));
            }
        }
    }
}
